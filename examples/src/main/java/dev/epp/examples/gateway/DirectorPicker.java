package dev.epp.examples.gateway;

import dev.epp.api.Endpoint;
import dev.epp.api.InferenceException;
import dev.epp.scheduler.Director;
import dev.epp.scheduler.Routing;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The in-process picker: the {@link Director} routes, and response hooks run as the response passes. The upstream
 * request loses the EPP's control headers and gets the headers pre-request plugins set
 * ({@link dev.epp.scheduler.Routing#upstreamHeaders()}) as it would behind the ext_proc server; the response body
 * reaches the client chunk by chunk as it arrives (a non-streaming body is also kept to parse its usage at the end).
 */
final class DirectorPicker implements EndpointPicker {

  private final Director director;

  DirectorPicker(Director director) {
    this.director = Objects.requireNonNull(director, "director");
  }

  @Override
  public Exchange open(BodySink client) {
    return new DirectorExchange(client);
  }

  @Override
  public void close() {}

  private final class DirectorExchange implements Exchange {
    private final BodySink client;
    private final ByteArrayOutputStream buffered = new ByteArrayOutputStream();
    private Routing routing;
    private boolean ended;

    DirectorExchange(BodySink client) {
      this.client = client;
    }

    @Override
    public Decision route(Map<String, String> headers, byte[] body) {
      try {
        routing = body.length == 0 ? director.routeHeaderOnly(headers) : director.route(headers, body, null);
      } catch (InferenceException e) {
        String message = "inference error: " + e.code().wireName() + " - " + e.getMessage();
        Map<String, String> reply = new LinkedHashMap<>(e.responseHeaders()); // e.g. x-llm-d-request-dropped-reason
        reply.put("content-type", "text/plain");
        return new Reject(e.code().httpStatus(), reply, message.getBytes(StandardCharsets.UTF_8));
      }
      Map<String, String> upstream = new LinkedHashMap<>(headers);
      upstream.keySet().removeAll(Headers.SYSTEM);
      upstream.putIfAbsent(Director.REQUEST_ID_HEADER, routing.context().request().requestId());
      upstream.put(Headers.DESTINATION, routing.destination());
      upstream.putAll(routing.upstreamHeaders());
      List<String> endpoints = routing.targets().stream().map(Endpoint::hostPort).toList();
      return new Forward(endpoints, upstream, routing.body());
    }

    @Override
    public Map<String, String> responseHeaders(Map<String, String> headers, String served) {
      return director.responseHeaders(routing, headers).headers();
    }

    @Override
    public void responseBody(byte[] chunk, boolean endOfStream) throws IOException {
      if (routing.streaming()) {
        director.responseBody(routing, chunk, endOfStream);
      } else {
        buffered.write(chunk);
        if (endOfStream) {
          director.responseBody(routing, buffered.toByteArray(), true);
        }
      }
      ended = endOfStream;
      if (chunk.length > 0) {
        client.write(chunk);
      }
    }

    @Override
    public void awaitResponseEnd() {
      if (!ended) {
        throw new IllegalStateException("the response has not ended");
      }
    }

    @Override
    public void close() {
      if (routing != null) {
        director.finish(routing);
      }
    }
  }
}
