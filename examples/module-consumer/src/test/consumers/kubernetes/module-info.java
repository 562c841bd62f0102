/** A consumer of {@code dev.epp.kubernetes}, an automatic module (see its pom). */
module dev.epp.examples.consumer.kubernetes {
  requires dev.epp.kubernetes;
}
