/** Implementation details of {@code dev.epp.metrics}; not an API. */
package dev.epp.metrics.internal;
