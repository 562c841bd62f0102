/** Implementation details of {@link dev.epp.metrics.export}; not an API. */
package dev.epp.metrics.export.internal;
