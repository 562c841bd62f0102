package dev.epp.extproc;

import com.google.protobuf.ByteString;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.Value;
import dev.epp.api.InferenceException;
import dev.epp.scheduler.Director;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption.HeaderAppendAction;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyMutation;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.HeaderMutation;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.StreamedBodyResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Conversions between Envoy ext_proc messages and plain Java values, and the protocol's constants. */
final class EnvoyMessages {

  /** Header and {@code envoy.lb} metadata key carrying the chosen endpoints. */
  static final String DESTINATION = "x-gateway-destination-endpoint";
  /** Metadata key with the endpoint the gateway actually used (response path). */
  /** {@code envoy.lb} metadata key carrying each scored endpoint's score, with {@code --emit-endpoint-scores}. */
  static final String DESTINATION_SCORES = "x-gateway-destination-endpoint-scores";
  static final String DESTINATION_SERVED = "x-gateway-destination-endpoint-served";
  /** Metadata namespace of the destination. */
  static final String LB_NAMESPACE = "envoy.lb";
  /** Metadata namespace of the gateway's candidate subset. */
  static final String SUBSET_NAMESPACE = "envoy.lb.subset_hint";
  /** Metadata key (and header) of the gateway's candidate subset. */
  static final String SUBSET_KEY = "x-gateway-destination-endpoint-subset";
  /** The debug marker the Go EPP sets on every response-headers answer. */
  static final String WENT_INTO_RESPONSE_HEADERS = "x-went-into-resp-headers";
  /** The Go EPP's limit for one streamed body chunk. */
  static final int MAX_CHUNK = 62_000;

  /**
   * Headers the EPP owns: read (control headers) or written (destination) by it, never echoed upstream. A client's
   * copy is removed from the upstream request.
   */
  static final Set<String> SYSTEM_HEADERS = union(Director.CONTROL_HEADERS,
      Set.of(SUBSET_KEY, DESTINATION, DESTINATION_SERVED, "content-length"));

  private EnvoyMessages() {}

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> all = new HashSet<>(a);
    all.addAll(b);
    return Set.copyOf(all);
  }

  /** The headers as a map with lower-case names; a header's {@code raw_value} wins over its {@code value}. */
  static Map<String, String> headers(HeaderMap map) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (HeaderValue header : map.getHeadersList()) {
      String value = header.getRawValue().isEmpty() ? header.getValue() : header.getRawValue().toStringUtf8();
      headers.put(header.getKey().toLowerCase(Locale.ROOT), value);
    }
    return headers;
  }

  /**
   * The gateway's candidate subset from {@code metadata_context}: the {@code ip:port} strings under
   * {@code envoy.lb.subset_hint / x-gateway-destination-endpoint-subset}, or {@code null} if absent.
   */
  static List<String> subsetHint(Metadata metadata) {
    Struct namespace = metadata.getFilterMetadataMap().get(SUBSET_NAMESPACE);
    if (namespace == null || !namespace.containsFields(SUBSET_KEY)) {
      return null;
    }
    Value value = namespace.getFieldsOrThrow(SUBSET_KEY);
    List<String> subset = new ArrayList<>();
    if (value.hasListValue()) {
      for (Value entry : value.getListValue().getValuesList()) {
        subset.add(entry.getStringValue());
      }
    } else if (value.hasStringValue()) {
      for (String entry : value.getStringValue().split(",")) {
        if (!entry.isBlank()) {
          subset.add(entry.trim());
        }
      }
    }
    return subset;
  }

  /** A header that replaces any value the request or response already has. */
  static HeaderValueOption header(String key, String value) {
    return HeaderValueOption.newBuilder()
        .setHeader(HeaderValue.newBuilder().setKey(key).setRawValue(ByteString.copyFromUtf8(value)))
        .setAppendAction(HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)
        .build();
  }

  /** Whether a header may be echoed: neither system-owned nor an HTTP/2 pseudo-header. */
  static boolean echoable(String name) {
    return !name.startsWith(":") && !SYSTEM_HEADERS.contains(name);
  }

  /** {@code {"envoy.lb": {"x-gateway-destination-endpoint": destination}}}. */
  static Struct destinationMetadata(String destination) {
    return Struct.newBuilder()
        .putFields(LB_NAMESPACE, structValue(Map.of(DESTINATION, destination)))
        .build();
  }

  /**
   * {@code {"envoy.lb": {"x-gateway-destination-endpoint": destination, "x-gateway-destination-endpoint-scores":
   * {ip:port: score, ...}}}}, llm-d's {@code --emit-endpoint-scores} metadata; without scores the key is left out.
   */
  static Struct destinationMetadata(String destination, Map<String, Double> scores) {
    if (scores.isEmpty()) {
      return destinationMetadata(destination);
    }
    return Struct.newBuilder()
        .putFields(LB_NAMESPACE, structValue(Map.of(DESTINATION, destination, DESTINATION_SCORES, scores)))
        .build();
  }

  /** Plugin-supplied dynamic metadata (namespace to key to value) as a protobuf Struct. */
  static Struct struct(Map<String, Map<String, Object>> metadata) {
    Struct.Builder struct = Struct.newBuilder();
    metadata.forEach((namespace, fields) -> struct.putFields(namespace, structValue(fields)));
    return struct.build();
  }

  private static Value structValue(Map<String, ?> fields) {
    Struct.Builder struct = Struct.newBuilder();
    fields.forEach((key, value) -> struct.putFields(key, value(value)));
    return Value.newBuilder().setStructValue(struct).build();
  }

  private static Value value(Object value) {
    if (value instanceof Number number) {
      return Value.newBuilder().setNumberValue(number.doubleValue()).build();
    }
    if (value instanceof Boolean bool) {
      return Value.newBuilder().setBoolValue(bool).build();
    }
    if (value instanceof List<?> list) {
      ListValue.Builder values = ListValue.newBuilder();
      list.forEach(item -> values.addValues(value(item)));
      return Value.newBuilder().setListValue(values).build();
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> fields = new LinkedHashMap<>();
      map.forEach((k, v) -> fields.put(String.valueOf(k), v));
      return structValue(fields);
    }
    return Value.newBuilder().setStringValue(String.valueOf(value)).build();
  }

  /** One streamed body chunk. */
  static BodyResponse bodyChunk(ByteString chunk, boolean endOfStream) {
    return BodyResponse.newBuilder()
        .setResponse(CommonResponse.newBuilder().setBodyMutation(BodyMutation.newBuilder()
            .setStreamedResponse(StreamedBodyResponse.newBuilder().setBody(chunk).setEndOfStream(endOfStream))))
        .build();
  }

  /**
   * The body split into streamed chunks of at most {@link #MAX_CHUNK} bytes, the last one with {@code endOfStream}
   * (false when trailers follow); an empty body is one empty chunk. The chunks share {@code body}'s bytes, which must
   * not change afterwards.
   */
  static List<BodyResponse> bodyChunks(byte[] body, boolean endOfStream) {
    ByteString bytes = UnsafeByteOperations.unsafeWrap(body);
    List<BodyResponse> chunks = new ArrayList<>();
    int offset = 0;
    do {
      int length = Math.min(MAX_CHUNK, body.length - offset);
      boolean last = offset + length == body.length;
      chunks.add(bodyChunk(bytes.substring(offset, offset + length), last && endOfStream));
      offset += length;
    } while (offset < body.length);
    return chunks;
  }

  /** The immediate response for an error: its HTTP status and {@code inference error: <Code> - <message>}. */
  static ProcessingResponse error(InferenceException e) {
    StatusCode status = StatusCode.forNumber(e.code().httpStatus());
    String body = "inference error: " + e.code().wireName() + " - " + e.getMessage();
    ImmediateResponse.Builder response = ImmediateResponse.newBuilder()
        .setStatus(HttpStatus.newBuilder().setCode(status == null ? StatusCode.InternalServerError : status))
        .setBody(ByteString.copyFrom(body, StandardCharsets.UTF_8));
    if (!e.responseHeaders().isEmpty()) {
      response.setHeaders(setHeaders(e.responseHeaders()));
    }
    return ProcessingResponse.newBuilder().setImmediateResponse(response).build();
  }

  /** A header mutation setting {@code headers}. */
  static HeaderMutation.Builder setHeaders(Map<String, String> headers) {
    HeaderMutation.Builder mutation = HeaderMutation.newBuilder();
    headers.forEach((k, v) -> mutation.addSetHeaders(header(k, v)));
    return mutation;
  }
}
