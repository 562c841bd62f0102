/**
 * Optional Kubernetes discovery for the Endpoint Picker: the pods of an {@code InferencePool} (or of a label selector)
 * as endpoints, and {@code InferenceObjective} priorities and {@code InferenceModelRewrite} rules for the director,
 * all kept current by fabric8 informers.
 *
 * <p>Nothing else in the EPP depends on this package, so embedders that discover endpoints another way never load a
 * Kubernetes client.
 */
package dev.epp.kubernetes;
