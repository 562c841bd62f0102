/** A gateway embedding the scheduler on the module path. */
module dev.epp.examples.consumer {
  requires dev.epp.scheduler;
}
