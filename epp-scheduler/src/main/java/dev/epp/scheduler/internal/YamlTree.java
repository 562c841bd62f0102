package dev.epp.scheduler.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.IOContext;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.DocumentStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.events.NodeEvent;
import org.yaml.snakeyaml.events.ScalarEvent;
import org.yaml.snakeyaml.reader.ReaderException;

/**
 * A YAML (or JSON) configuration document decoded into plain Java values ({@link LinkedHashMap}, {@link ArrayList},
 * {@link String}, {@link Number}, {@link Boolean}, {@code null}) together with the line and column of every value,
 * keyed by its path ({@code plugins[0].parameters.foo}), so configuration errors can say where they are.
 *
 * <p>As in YAML 1.1, an alias ({@code *name}) stands for the value its anchor ({@code &name}) marks, and a plain
 * {@code <<} key merges the keys of a mapping (or of a list of mappings, the first having a key winning) that the
 * mapping does not set itself. A value reached through an alias or merge is located at the alias or {@code <<} key.
 * The document holds at most {@value #MAX_VALUES} values, each alias counting as the values it stands for, which
 * refuses "billion laughs" documents, and nests at most {@value #MAX_DEPTH} mappings and lists deep as written. A
 * second document that is not empty (or {@code null}) is an error. An empty value is {@code null}; {@code .nan} and
 * {@code .inf} are the non-finite doubles.
 */
public final class YamlTree {

  /** Most values one document may hold, each alias counting as the values it stands for. */
  public static final int MAX_VALUES = 10_000;

  /** Most mappings and lists one value may be nested in. */
  public static final int MAX_DEPTH = 64;

  private static final String MERGE_KEY = "<<";
  /** How Jackson starts its message for a mapping key that is not a scalar. */
  private static final String JACKSON_COMPLEX_KEY = "Expected a field name";
  private static final EventParserFactory YAML = new EventParserFactory();

  private final Object root;
  private final Map<String, String> locations;

  private YamlTree(Object root, Map<String, String> locations) {
    this.root = root;
    this.locations = locations;
  }

  /**
   * Parses one document.
   *
   * @throws InvalidYamlException if the text is not valid YAML, holds a second document, repeats a key, uses an
   *     undefined or self-containing alias, or holds more than {@value #MAX_VALUES} values or nests deeper than
   *     {@value #MAX_DEPTH}
   */
  public static YamlTree parse(String text) {
    try (EventParser parser = (EventParser) YAML.createParser(new StringReader(text))) {
      Decoder decoder = new Decoder(parser);
      Object root = decoder.document();
      return new YamlTree(root, decoder.locations);
    } catch (IOException e) {
      throw invalid(e, text);
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

  /** The text is not a usable YAML document; the message says why in the user's terms. */
  public static final class InvalidYamlException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String location;
    private final String path;

    InvalidYamlException(String location, String path, String message) {
      super(message);
      this.location = location;
      this.path = path;
    }

    /** {@code line:column} of the problem; empty if unknown. */
    public String location() {
      return location;
    }

    /** The path of the value at fault; empty for a problem in the YAML syntax itself. */
    public String path() {
      return path;
    }
  }

  /** Builds the values and their locations from the parser's tokens, resolving anchors, aliases and merges. */
  private static final class Decoder {
    private final EventParser parser;
    private final Map<String, String> locations = new HashMap<>();
    private final Map<String, Anchored> anchors = new HashMap<>();
    private final Set<String> anchorsBeingRead = new HashSet<>();
    private int values;
    private int depth;

    /** An anchored value and how many values it holds, its aliases expanded. */
    private record Anchored(Object value, int size) {}

    Decoder(EventParser parser) {
      this.parser = parser;
    }

    Object document() throws IOException {
      Object root = parser.nextToken() == null ? null : value("");
      while (parser.nextToken() != null) {
        if (parser.currentToken() != JsonToken.VALUE_NULL) {
          throw new InvalidYamlException(location(parser.documentStart), "",
              "a second YAML document starts here; the configuration must be one document");
        }
      }
      return root;
    }

    private Object value(String path) throws IOException {
      String at = location(parser.currentTokenLocation());
      locations.put(path, at);
      if (parser.event instanceof AliasEvent alias) {
        return alias(alias.getAnchor(), path, at);
      }
      String anchor = parser.event instanceof NodeEvent node ? node.getAnchor() : null;
      int before = values;
      count(1, path, at, "the configuration has more than " + MAX_VALUES + " values");
      if (anchor != null) {
        anchorsBeingRead.add(anchor);
      }
      Object value = switch (parser.currentToken()) {
        case START_OBJECT -> mapping(path, at);
        case START_ARRAY -> sequence(path, at);
        case VALUE_STRING -> parser.getText();
        case VALUE_NUMBER_INT -> parser.getNumberValue();
        case VALUE_NUMBER_FLOAT -> floatValue();
        case VALUE_TRUE -> Boolean.TRUE;
        case VALUE_FALSE -> Boolean.FALSE;
        case VALUE_NULL -> null;
        default -> throw new InvalidYamlException(at, path, "binary (!!binary) values are not supported");
      };
      if (anchor != null) {
        anchorsBeingRead.remove(anchor);
        anchors.put(anchor, new Anchored(value, values - before));
      }
      return value;
    }

    private Object alias(String anchor, String path, String at) {
      if (anchorsBeingRead.contains(anchor)) {
        throw new InvalidYamlException(at, path, "alias *" + anchor + " refers to the value that contains it");
      }
      Anchored anchored = anchors.get(anchor);
      if (anchored == null) {
        throw new InvalidYamlException(at, path, "alias *" + anchor + " has no anchor &" + anchor + " before it");
      }
      count(anchored.size(), path, at, "aliases expand the configuration to more than " + MAX_VALUES + " values");
      return anchored.value();
    }

    private void count(int size, String path, String at, String tooMany) {
      values += size;
      if (values > MAX_VALUES) {
        throw new InvalidYamlException(at, path, tooMany);
      }
    }

    private Map<String, Object> mapping(String path, String at) throws IOException {
      enter(path, at);
      Map<String, Object> map = new LinkedHashMap<>();
      List<Map<?, ?>> merged = null;
      String mergeAt = null;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String key = parser.currentName();
        String child = path.isEmpty() ? key : path + "." + key;
        String keyAt = location(parser.currentTokenLocation());
        ScalarEvent keyEvent = (ScalarEvent) parser.event;
        if (keyEvent.getAnchor() != null) {
          anchors.put(keyEvent.getAnchor(), new Anchored(key, 1));
        }
        boolean merge = key.equals(MERGE_KEY) && keyEvent.isPlain();
        if (merge ? merged != null : map.containsKey(key)) {
          throw new InvalidYamlException(keyAt, child, "duplicate key '" + key + "'");
        }
        parser.nextToken();
        if (merge) {
          String valueAt = location(parser.currentTokenLocation());
          merged = mergedMappings(value(child), child, valueAt);
          mergeAt = keyAt;
        } else {
          map.put(key, value(child));
        }
        locations.put(child, keyAt);
      }
      if (merged != null) {
        for (Map<?, ?> source : merged) {
          for (Map.Entry<?, ?> entry : source.entrySet()) {
            String key = (String) entry.getKey();
            if (!map.containsKey(key)) {
              map.put(key, entry.getValue());
              locations.put(path.isEmpty() ? key : path + "." + key, mergeAt);
            }
          }
        }
      }
      depth--;
      return map;
    }

    private static List<Map<?, ?>> mergedMappings(Object value, String path, String at) {
      if (value instanceof Map<?, ?> map) {
        return List.of(map);
      }
      List<Map<?, ?>> maps = new ArrayList<>();
      if (value instanceof List<?> list) {
        for (Object element : list) {
          if (element instanceof Map<?, ?> map) {
            maps.add(map);
          }
        }
        if (maps.size() == list.size()) {
          return maps;
        }
      }
      throw new InvalidYamlException(at, path, "a merge key '<<' takes a mapping or a list of mappings");
    }

    private List<Object> sequence(String path, String at) throws IOException {
      enter(path, at);
      List<Object> list = new ArrayList<>();
      while (parser.nextToken() != JsonToken.END_ARRAY) {
        list.add(value(path + "[" + list.size() + "]"));
      }
      depth--;
      return list;
    }

    private void enter(String path, String at) {
      if (++depth > MAX_DEPTH) {
        throw new InvalidYamlException(at, path, "mappings and lists nest deeper than " + MAX_DEPTH + " levels");
      }
    }

    /** The YAML float; Jackson does not decode {@code .nan} and {@code .inf}. */
    private Number floatValue() throws IOException {
      return switch (parser.getText().toLowerCase(Locale.ROOT)) {
        case ".nan" -> Double.NaN;
        case ".inf", "+.inf" -> Double.POSITIVE_INFINITY;
        case "-.inf" -> Double.NEGATIVE_INFINITY;
        default -> parser.getNumberValue();
      };
    }
  }

  private static String location(JsonLocation at) {
    return at.getLineNr() + ":" + at.getColumnNr();
  }

  private static String location(Mark mark) {
    return (mark.getLine() + 1) + ":" + (mark.getColumn() + 1);
  }

  /** The parser's failure in the user's terms, located where the parser says the problem is. */
  private static InvalidYamlException invalid(IOException e, String text) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
        return syntaxError(marked);
      }
      if (cause instanceof ReaderException reader) {
        int c = reader.getCodePoint();
        return new InvalidYamlException(position(text, reader.getPosition()), "", String.format(Locale.ROOT,
            "invalid YAML: %scharacter U+%04X is not allowed", Character.isISOControl(c) ? "control " : "", c));
      }
    }
    String message = firstLine(e instanceof JsonProcessingException p ? p.getOriginalMessage() : e.getMessage());
    if (message.startsWith(JACKSON_COMPLEX_KEY)) {
      message = "a mapping key must be a string, number or boolean, not a list, mapping or alias";
    }
    JsonLocation at = e instanceof JsonProcessingException p ? p.getLocation() : null;
    return new InvalidYamlException(at == null || at.getLineNr() < 1 ? "" : location(at), "",
        "invalid YAML: " + message);
  }

  private static InvalidYamlException syntaxError(MarkedYAMLException e) {
    Mark mark = e.getProblemMark();
    String at = location(mark);
    int[] buffer = mark.getBuffer();
    if (buffer != null && mark.getPointer() < buffer.length && buffer[mark.getPointer()] == '\t') {
      return new InvalidYamlException(at, "", "invalid YAML: tab characters are not allowed here; indent with spaces");
    }
    Mark contextMark = e.getContextMark();
    String context = e.getContext() == null || contextMark == null || location(contextMark).equals(at) ? ""
        : " (" + e.getContext() + " at " + location(contextMark) + ")";
    String problem = e.getProblem() == null ? "" : firstLine(e.getProblem());
    return new InvalidYamlException(at, "", "invalid YAML: " + problem + context);
  }

  /** {@code line:column} of the code point at {@code index} in {@code text}. */
  private static String position(String text, int index) {
    int line = 1;
    int column = 1;
    for (int i = 0, seen = 0; i < text.length() && seen < index; i = text.offsetByCodePoints(i, 1), seen++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return line + ":" + column;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable document";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  /** Creates {@link EventParser}s that read an empty plain value as {@code null}, as YAML does. */
  private static final class EventParserFactory extends YAMLFactory {

    private static final long serialVersionUID = 1L;

    EventParserFactory() {
      super(YAMLFactory.builder().enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL));
    }

    @Override
    protected YAMLParser _createParser(Reader reader, IOContext context) {
      return new EventParser(context, _parserFeatures, _yamlParserFeatures, _loaderOptions, reader);
    }
  }

  /**
   * A Jackson YAML parser that keeps the YAML event behind its current token (for anchors, aliases and the style of
   * a key) and where the last document started; Jackson itself reads an alias as its anchor's name.
   */
  private static final class EventParser extends YAMLParser {
    private Event event;
    private Mark documentStart;

    EventParser(IOContext context, int features, int yamlFeatures, LoaderOptions options, Reader reader) {
      super(context, features, yamlFeatures, options, null, reader);
    }

    @Override
    protected Event getEvent() throws IOException {
      Event next = super.getEvent();
      if (next instanceof DocumentStartEvent) {
        documentStart = next.getStartMark();
      }
      event = next;
      return next;
    }
  }
}
