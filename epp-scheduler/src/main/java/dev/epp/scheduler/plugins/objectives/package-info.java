/**
 * Request objectives without Kubernetes: type {@code static-objectives}, objective priorities given in the
 * configuration file.
 */
package dev.epp.scheduler.plugins.objectives;
