/**
 * The plugin contract kit: JUnit 5 test interfaces and fixtures that check a plugin against the SPI's contract. A
 * plugin's tests implement the interfaces; the kit's types use {@code dev.epp.api} and JUnit Jupiter's API.
 */
module dev.epp.testkit {
  requires transitive dev.epp.api;
  requires transitive org.junit.jupiter.api;

  exports dev.epp.testkit;
}
