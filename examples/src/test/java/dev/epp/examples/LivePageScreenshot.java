package dev.epp.examples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;

/**
 * Takes {@code docs/epp-page.png}: the live page at 1280x900 over the demo under load, with the newest decision
 * expanded. Run by hand (not by the test suite) with the output file as argument.
 */
final class LivePageScreenshot {

  private LivePageScreenshot() {}

  public static void main(String[] args) throws Exception {
    Path output = Path.of(args.length > 0 ? args[0] : "docs/epp-page.png");
    Path profile = Files.createTempDirectory("epp-page-chromium-");
    try (RunningDemo demo = new RunningDemo(); RunningDemo.Load load = demo.load(12)) {
      ChromeDriver browser = Chromium.start(profile, 1280, 900);
      try {
        browser.executeCdpCommand("Emulation.setDeviceMetricsOverride",
            Map.of("width", 1280, "height", 900, "deviceScaleFactor", 1, "mobile", false));
        browser.get(demo.metrics("/").toString());
        Thread.sleep(Duration.ofSeconds(4).toMillis()); // let load build up queues and decisions
        // Opens the newest decision right after a refresh, so that the next one does not push it down first.
        browser.executeAsyncScript("const done = arguments[arguments.length - 1];"
            + "new MutationObserver((m, o) => { o.disconnect(); setTimeout(() => {"
            + "document.querySelector('details.decision summary').click(); done(); }, 50); })"
            + ".observe(document.getElementById('decisions'), {childList: true});");
        Files.copy(browser.getScreenshotAs(OutputType.FILE).toPath(), output, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        browser.quit();
      }
    }
    System.out.println("wrote " + output);
  }
}
