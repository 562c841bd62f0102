package dev.epp.examples.simulator;

import dev.epp.kvcache.events.KvEventSubscribers;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A scalable set of simulated vLLM pods on the loopback address, listed in an endpoints file that a
 * {@code FileDiscovery} watches, as a Deployment's pods are listed by Kubernetes.
 *
 * <p>Pod {@code i} (from 0) is named {@code vllm-<i>-rank-0} and listens on {@code firstPort + i}, or on a free port
 * when {@code firstPort} is 0. {@link #scale} starts the missing pods in index order or stops the highest ones, then
 * replaces the file atomically (written beside it, then moved over it) with one line per running pod:
 * {@code vllm-<i>-rank-0 127.0.0.1:<port> inference.networking.k8s.io/engine-type=vllm llm-d.ai/role=<role>}
 * (the role label as llm-d's {@code prefill-filter} and {@code decode-filter} read it). Every pod has the role
 * {@link Role#BOTH}, or, for prefill/decode disaggregation, even pods {@link Role#PREFILL} and odd ones
 * {@link Role#DECODE}.
 *
 * <p>With KV events, pod {@code i} also publishes its KV-cache events over ZeroMQ on
 * {@code tcp://127.0.0.1:<firstKvEventsPort + i>} (or a free port when {@code firstKvEventsPort} is 0), topic
 * {@code kv@vllm-<i>-rank-0@<model>}: the pods share one address, so each has its own port, which its line names with
 * the label {@code kv-events-port=<port>} for the EPP's KV-event subscribers.
 *
 * <p>Every pod runs {@link #ENGINE}, sized so that load from a shell loop shows in queues and KV-cache use.
 *
 * <p><b>Threading:</b> thread-safe.
 */
public final class SimulatedPods implements AutoCloseable {

  /**
   * The pods' engine: the default model, speeds and block size, but 8 sequences at once (more wait in the queue) and
   * 512 KV blocks (8,192 tokens), so a few dozen concurrent requests queue and fill a visible part of the cache.
   */
  static final EngineConfig ENGINE = new EngineConfig(EngineConfig.DEFAULT_MODEL, List.of(), 1, 8, 512, 16,
      EngineConfig.defaults().prefillNanosPerToken(), EngineConfig.defaults().decodeNanosPerToken(),
      EngineConfig.defaults().kvTransferNanosPerToken());

  /** A running pod and its KV events port (-1 without KV events). */
  public record Pod(String name, int port, int kvEventsPort) {
    /** {@code 127.0.0.1:<port>}, the pod's address in the endpoints file. */
    public String hostPort() {
      return LOOPBACK.getHostAddress() + ":" + port;
    }
  }

  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final String ENGINE_LABEL = "inference.networking.k8s.io/engine-type=vllm";

  private final Path endpointsFile;
  private final int firstPort;
  private final int maxReplicas;
  private final boolean disaggregated;
  private final int firstKvEventsPort;
  private final List<SimulatorServer> servers = new ArrayList<>(); // pod i at index i

  /**
   * No pod yet; {@link #scale} starts them and writes {@code endpointsFile}, which {@link #close()} deletes.
   *
   * @param firstPort pod 0's port, pod {@code i} on {@code firstPort + i}; 0 for free ports
   * @param maxReplicas the most pods {@link #scale} accepts
   * @param disaggregated whether even pods prefill and odd ones decode, rather than every pod doing both
   * @throws IllegalArgumentException if the ports of {@code maxReplicas} pods do not fit in 1..65535
   */
  public SimulatedPods(Path endpointsFile, int firstPort, int maxReplicas, boolean disaggregated) {
    this(endpointsFile, firstPort, maxReplicas, disaggregated, -1);
  }

  /**
   * As {@link #SimulatedPods(Path, int, int, boolean)}, with pods that publish their KV-cache events.
   *
   * @param firstKvEventsPort pod 0's KV events port, pod {@code i} on {@code firstKvEventsPort + i}; 0 for free
   *     ports; negative for no KV events
   * @throws IllegalArgumentException if the ports of {@code maxReplicas} pods do not fit in 1..65535
   */
  public SimulatedPods(Path endpointsFile, int firstPort, int maxReplicas, boolean disaggregated,
      int firstKvEventsPort) {
    this.endpointsFile = Objects.requireNonNull(endpointsFile, "endpointsFile");
    if (maxReplicas < 1 || firstPort < 0 || (firstPort > 0 && firstPort + maxReplicas - 1 > 65535)) {
      throw new IllegalArgumentException(
          "cannot place " + maxReplicas + " pods on consecutive ports from " + firstPort);
    }
    if (firstKvEventsPort > 0 && firstKvEventsPort + maxReplicas - 1 > 65535) {
      throw new IllegalArgumentException(
          "cannot place " + maxReplicas + " KV events publishers on consecutive ports from " + firstKvEventsPort);
    }
    this.firstPort = firstPort;
    this.maxReplicas = maxReplicas;
    this.disaggregated = disaggregated;
    this.firstKvEventsPort = firstKvEventsPort;
  }

  /** The model every pod serves. */
  public static String model() {
    return ENGINE.model();
  }

  /** The most pods {@link #scale} accepts. */
  public int maxReplicas() {
    return maxReplicas;
  }

  /** The running pods, in index order. */
  public synchronized List<Pod> pods() {
    List<Pod> pods = new ArrayList<>(servers.size());
    for (int i = 0; i < servers.size(); i++) {
      pods.add(new Pod(name(i), servers.get(i).port(), servers.get(i).kvEventsPort()));
    }
    return List.copyOf(pods);
  }

  /**
   * Starts or stops pods until {@code count} run, then rewrites the endpoints file.
   *
   * @return the running pods, in index order
   * @throws IllegalArgumentException if {@code count} is not in {@code 0..maxReplicas}
   * @throws IOException if a pod cannot listen on its port or the file cannot be written; the pods started before
   *     the failure keep running, and the file lists them
   */
  public synchronized List<Pod> scale(int count) throws IOException {
    if (count < 0 || count > maxReplicas) {
      throw new IllegalArgumentException("count must be in 0.." + maxReplicas + ", got " + count);
    }
    while (servers.size() > count) {
      servers.remove(servers.size() - 1).close();
    }
    IOException failure = null;
    while (servers.size() < count && failure == null) {
      int index = servers.size();
      int port = firstPort == 0 ? 0 : firstPort + index;
      SimulatorServer.KvEvents kvEvents = firstKvEventsPort < 0 ? null : new SimulatorServer.KvEvents(
          firstKvEventsPort == 0 ? 0 : firstKvEventsPort + index, KvEventPublisher.Encoding.ARRAY);
      try {
        servers.add(SimulatorServer.start(ENGINE, role(index), name(index), SimulatorServer.TextMode.RANDOM, index,
            new InetSocketAddress(LOOPBACK, port), kvEvents));
      } catch (IOException e) {
        failure = new IOException("cannot start pod " + name(index) + " on port " + port + ": " + e.getMessage(), e);
      }
    }
    writeEndpointsFile();
    if (failure != null) {
      throw failure;
    }
    return pods();
  }

  /** Stops every pod and deletes the endpoints file. Idempotent. */
  @Override
  public synchronized void close() throws IOException {
    servers.forEach(SimulatorServer::close);
    servers.clear();
    Files.deleteIfExists(endpointsFile);
  }

  private Role role(int index) {
    if (!disaggregated) {
      return Role.BOTH;
    }
    return index % 2 == 0 ? Role.PREFILL : Role.DECODE;
  }

  private static String name(int index) {
    return "vllm-" + index + "-rank-0";
  }

  private void writeEndpointsFile() throws IOException {
    StringBuilder text = new StringBuilder("# simulated pods, written by the demo\n");
    List<Pod> pods = pods();
    for (int i = 0; i < pods.size(); i++) {
      text.append(pods.get(i).name()).append(' ').append(pods.get(i).hostPort()).append(' ').append(ENGINE_LABEL)
          .append(' ').append(role(i).label());
      if (pods.get(i).kvEventsPort() > 0) {
        text.append(' ').append(KvEventSubscribers.PORT_LABEL).append('=').append(pods.get(i).kvEventsPort());
      }
      text.append('\n');
    }
    Path dir = endpointsFile.toAbsolutePath().getParent();
    Path temp = Files.createTempFile(dir, endpointsFile.getFileName() + ".", ".tmp");
    try {
      Files.writeString(temp, text, StandardCharsets.UTF_8);
      Files.move(temp, endpointsFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temp);
    }
  }
}
