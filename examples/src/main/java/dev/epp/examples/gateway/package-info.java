/**
 * A small HTTP gateway standing in for Envoy on one machine: {@link dev.epp.examples.gateway.Gateway} asks an
 * {@link dev.epp.examples.gateway.EndpointPicker} (the EPP over ext_proc, or a director in process) where each request
 * goes, forwards it and relays the response.
 */
package dev.epp.examples.gateway;
