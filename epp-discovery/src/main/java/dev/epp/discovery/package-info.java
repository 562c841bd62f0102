/**
 * Endpoint discovery without Kubernetes, implementing {@link dev.epp.api.EndpointDiscovery}:
 * {@link dev.epp.discovery.StaticDiscovery} (a fixed list) and {@link dev.epp.discovery.FileDiscovery} (a watched
 * endpoints file), with {@link dev.epp.discovery.IpPort} parsing their {@code ip:port} addresses.
 *
 * <p>Parameters and return values are never {@code null} unless a method says otherwise.
 */
package dev.epp.discovery;
