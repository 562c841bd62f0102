/**
 * The plugin contract kit: JUnit 5 test interfaces that check a plugin against the contract of its extension point.
 * A plugin's test class implements {@link dev.epp.testkit.ScorerContract}, {@link dev.epp.testkit.FilterContract},
 * {@link dev.epp.testkit.PickerContract} or, for other plugins, {@link dev.epp.testkit.PluginContract}, supplies the
 * plugin (and its factory), and inherits the checks. {@link dev.epp.testkit.Fixtures} and
 * {@link dev.epp.testkit.FakeTicker} build the endpoints, metrics, requests and time the checks use, for the test's own
 * checks too.
 */
package dev.epp.testkit;
