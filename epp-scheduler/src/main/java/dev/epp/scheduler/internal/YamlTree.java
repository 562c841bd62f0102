package dev.epp.scheduler.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A YAML (or JSON) document decoded into plain Java values ({@link LinkedHashMap}, {@link ArrayList},
 * {@link String}, {@link Number}, {@link Boolean}, {@code null}) together with the line and column of every value,
 * keyed by its path ({@code plugins[0].parameters.foo}), so configuration errors can say where they are.
 */
public final class YamlTree {

  private static final YAMLFactory YAML =
      YAMLFactory.builder().streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build();

  private final Object root;
  private final Map<String, String> locations;

  private YamlTree(Object root, Map<String, String> locations) {
    this.root = root;
    this.locations = locations;
  }

  /**
   * Parses one document.
   *
   * @throws IllegalArgumentException with a message carrying line and column if the text is not valid YAML or a
   *     mapping repeats a key
   */
  public static YamlTree parse(String text) {
    Map<String, String> locations = new HashMap<>();
    try (JsonParser parser = YAML.createParser(text)) {
      JsonToken first = parser.nextToken();
      Object root = first == null ? null : read(parser, "", locations);
      return new YamlTree(root, locations);
    } catch (IOException e) {
      String message = e.getMessage();
      int newline = message == null ? -1 : message.indexOf('\n');
      throw new IllegalArgumentException(newline < 0 ? message : message.substring(0, newline), e);
    }
  }

  /** The document's root value; {@code null} for an empty document. */
  public Object root() {
    return root;
  }

  /** {@code line:column} of the value at {@code path}, or of its nearest enclosing value; empty if unknown. */
  public String location(String path) {
    String p = path;
    while (true) {
      String location = locations.get(p);
      if (location != null || p.isEmpty()) {
        return location == null ? "" : location;
      }
      int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut < 0 ? "" : p.substring(0, cut);
    }
  }

  private static Object read(JsonParser parser, String path, Map<String, String> locations) throws IOException {
    JsonLocation at = parser.currentTokenLocation();
    locations.put(path, at.getLineNr() + ":" + at.getColumnNr());
    JsonToken token = parser.currentToken();
    switch (token) {
      case START_OBJECT -> {
        Map<String, Object> map = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String key = parser.currentName();
          String child = path.isEmpty() ? key : path + "." + key;
          JsonLocation keyAt = parser.currentTokenLocation();
          if (map.containsKey(key)) {
            throw new IOException(
                "duplicate key '" + key + "' at line " + keyAt.getLineNr() + ", column " + keyAt.getColumnNr());
          }
          parser.nextToken();
          map.put(key, read(parser, child, locations));
          locations.put(child, keyAt.getLineNr() + ":" + keyAt.getColumnNr());
        }
        return map;
      }
      case START_ARRAY -> {
        List<Object> list = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          list.add(read(parser, path + "[" + list.size() + "]", locations));
        }
        return list;
      }
      case VALUE_STRING -> {
        return parser.getText();
      }
      case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
        return parser.getNumberValue();
      }
      case VALUE_TRUE -> {
        return Boolean.TRUE;
      }
      case VALUE_FALSE -> {
        return Boolean.FALSE;
      }
      case VALUE_NULL -> {
        return null;
      }
      default -> throw new IOException("unsupported YAML value " + token + " at line " + at.getLineNr());
    }
  }
}
