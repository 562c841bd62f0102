package dev.epp.scheduler.plugins.load;

import dev.epp.api.Parameters;
import dev.epp.api.PluginHandle;
import dev.epp.api.Ticker;
import dev.epp.testkit.FakeTicker;
import java.util.Optional;

/** Plugin handles that offer an {@link InFlightLoadProducer} to the plugins that read one. */
public final class InFlightHandles {

  private InFlightHandles() {}

  /** A handle offering {@code producer} under its name. */
  public static PluginHandle with(InFlightLoadProducer producer) {
    return new PluginHandle() {
      @Override
      public Ticker ticker() {
        return new FakeTicker();
      }

      @Override
      public <T> Optional<T> plugin(String name, Class<T> type) {
        return name.equals(producer.typedName().name()) && type.isInstance(producer)
            ? Optional.of(type.cast(producer))
            : Optional.empty();
      }
    };
  }

  /** A handle offering a default producer named {@value InFlightLoadProducer#TYPE}. */
  public static PluginHandle withDefaultProducer() {
    return with(new InFlightLoadProducer(InFlightLoadProducer.TYPE, Parameters.empty()));
  }
}
