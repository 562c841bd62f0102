/**
 * Request-control extension points, called by the request director around scheduling and while the response
 * streams back: {@link dev.epp.api.requestcontrol.PrepareData}, {@link dev.epp.api.requestcontrol.Admission},
 * {@link dev.epp.api.requestcontrol.PreRequest}, {@link dev.epp.api.requestcontrol.ResponseHeader},
 * {@link dev.epp.api.requestcontrol.ResponseBody}, and the pool-level
 * {@link dev.epp.api.requestcontrol.SaturationDetector}.
 *
 * <p>Every configured plugin that implements one of these interfaces is called, whether or not a scheduling profile
 * references it.
 */
package dev.epp.api.requestcontrol;
