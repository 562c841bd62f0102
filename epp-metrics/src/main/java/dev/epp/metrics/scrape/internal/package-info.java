/** Implementation details of {@link dev.epp.metrics.scrape}; not an API. */
package dev.epp.metrics.scrape.internal;
