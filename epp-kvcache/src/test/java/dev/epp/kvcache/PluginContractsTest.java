package dev.epp.kvcache;

import dev.epp.api.PluginFactory;
import dev.epp.testkit.PluginContract;
import org.junit.jupiter.api.Nested;

/** The contract kit's factory checks for the module's plugin types. */
class PluginContractsTest {

  @Nested
  class PrecisePrefixCacheProducerContract implements PluginContract {
    @Override
    public PluginFactory factory() {
      return new PrecisePrefixCacheProducer.Factory();
    }
  }

  @Nested
  class EndpointNotificationSourceContract implements PluginContract {
    @Override
    public PluginFactory factory() {
      return new EndpointNotificationSource.Factory();
    }
  }
}
