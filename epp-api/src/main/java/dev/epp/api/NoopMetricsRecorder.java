package dev.epp.api;

/** The {@link MetricsRecorder#noop()} singleton. */
enum NoopMetricsRecorder implements MetricsRecorder {
  INSTANCE
}
