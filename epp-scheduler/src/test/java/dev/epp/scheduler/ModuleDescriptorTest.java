package dev.epp.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.epp.api.PluginFactory;
import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.module.ModuleReference;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The module descriptor agrees with the class-path registration and the package layout: it provides exactly the
 * factories {@code META-INF/services} lists, and exports every package but {@code dev.epp.scheduler.internal}.
 */
class ModuleDescriptorTest {

  private static final String SERVICE = PluginFactory.class.getName();

  private final ModuleReference module = schedulerModule();

  @Test
  void providesTheFactoriesRegisteredForTheClassPath() throws IOException {
    Set<String> provided = module.descriptor().provides().stream()
        .filter(provides -> provides.service().equals(SERVICE))
        .flatMap(provides -> provides.providers().stream())
        .collect(Collectors.toCollection(TreeSet::new));

    assertEquals(servicesFile(), provided);
  }

  @Test
  void loadsPluginFactoriesThroughServiceLoader() {
    assertEquals(Set.of(SERVICE), module.descriptor().uses());
  }

  @Test
  void exportsEveryPackageButInternal() {
    Set<String> unqualified = module.descriptor().exports().stream()
        .filter(exports -> !exports.isQualified())
        .map(ModuleDescriptor.Exports::source)
        .collect(Collectors.toCollection(TreeSet::new));
    Set<String> expected = new TreeSet<>(module.descriptor().packages());
    expected.remove("dev.epp.scheduler.internal");

    assertEquals(expected, unqualified);
  }

  private static ModuleReference schedulerModule() {
    try {
      Path classes = Path.of(PluginRegistry.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return ModuleFinder.of(classes).find("dev.epp.scheduler").orElseThrow();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private Set<String> servicesFile() throws IOException {
    try (ModuleReader reader = module.open();
        InputStream in = reader.open("META-INF/services/" + SERVICE).orElseThrow()) {
      List<String> lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
      return lines.stream().map(String::strip).filter(line -> !line.isEmpty() && !line.startsWith("#"))
          .collect(Collectors.toCollection(TreeSet::new));
    }
  }
}
