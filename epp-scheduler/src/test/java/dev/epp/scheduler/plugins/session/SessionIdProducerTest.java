package dev.epp.scheduler.plugins.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.epp.api.Parameters;
import dev.epp.api.PluginConfigException;
import dev.epp.api.PluginFactory;
import dev.epp.api.RequestContext;
import dev.epp.testkit.Fixtures;
import dev.epp.testkit.PluginContract;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SessionIdProducerTest implements PluginContract {

  @Override
  public PluginFactory factory() {
    return new SessionIdProducer.Factory();
  }

  @Override
  public Parameters validParameters() {
    return Parameters.of(Map.of("headerName", "x-session-id"));
  }

  private SessionIdProducer create(Map<String, Object> parameters) {
    return (SessionIdProducer) createThroughFactory("sessions", Parameters.of(parameters));
  }

  private static String produce(SessionIdProducer producer, Map<String, String> headers) {
    RequestContext context = Fixtures.context("m", headers);
    producer.prepareData(context, Fixtures.unscraped(2));
    return producer.sessionId(context);
  }

  @Test
  void headerValueIsPublishedTrimmed() {
    SessionIdProducer producer = create(Map.of("headerName", " X-Session-Id "));
    assertEquals("abc", produce(producer, Map.of("x-session-id", "  abc ")));
    assertNull(produce(producer, Map.of("x-session-id", "   ")));
    assertNull(produce(producer, Map.of("x-other", "abc")));
  }

  @Test
  void cookieValueIsPublished() {
    SessionIdProducer producer = create(Map.of("cookieName", "llm-d-session"));
    assertEquals("s-1", produce(producer, Map.of("cookie", "llm-d-session=s-1")));
    assertEquals("s=2", produce(producer, Map.of("cookie", "theme=dark; llm-d-session=s=2;lang=en")));
    assertNull(produce(producer, Map.of("cookie", "theme=dark; llm-d-session-old=x; broken")));
    assertNull(produce(producer, Map.of("cookie", "llm-d-session=")));
    assertNull(produce(producer, Map.of()));
  }

  @Test
  void eachProducerPublishesUnderItsOwnName() {
    SessionIdProducer byHeader = SessionIdProducer.fromHeader("a", "x-a");
    SessionIdProducer byCookie = SessionIdProducer.fromCookie("b", "b");
    RequestContext context = Fixtures.context("m", Map.of("x-a", "one", "cookie", "b=two"));
    byHeader.prepareData(context, Fixtures.unscraped(1));
    byCookie.prepareData(context, Fixtures.unscraped(1));
    assertEquals("one", byHeader.sessionId(context));
    assertEquals("two", byCookie.sessionId(context));
  }

  @Test
  void exactlyOneSourceMustBeSet() {
    PluginConfigException none = assertThrows(PluginConfigException.class, () -> create(Map.of()));
    assertEquals("exactly one of parameters 'headerName' and 'cookieName' must be set", none.getMessage());
    PluginConfigException both = assertThrows(PluginConfigException.class,
        () -> create(Map.of("headerName", "h", "cookieName", "c")));
    assertEquals("exactly one of parameters 'headerName' and 'cookieName' must be set, not both", both.getMessage());
  }
}
