/** Endpoint discovery without Kubernetes: a static list and a watched endpoints file. */
module dev.epp.discovery {
  requires transitive dev.epp.api;
  requires org.slf4j;

  exports dev.epp.discovery;
}
