package dev.epp.examples;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a command makes before it starts anything, so that the commonest start failures (a missing file, a port in
 * use) are reported at once, in one line naming the flag and saying why, before any log line.
 */
final class StartCheck {

  /** A failed check; its message is one line. */
  static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;

    Failure(String message) {
      super(message);
    }
  }

  private StartCheck() {}

  /**
   * Fails if two of {@code ports} name the same port, or one is in use on {@code address}; 0 (a free port) passes.
   *
   * @param address where the ports will be bound; {@code null} for every interface
   */
  static void portsFree(InetAddress address, List<Cli.Flag<Integer>> ports) throws Failure {
    Map<Integer, Cli.Flag<Integer>> seen = new HashMap<>();
    for (Cli.Flag<Integer> flag : ports) {
      int port = flag.get();
      if (port == 0) {
        continue;
      }
      Cli.Flag<Integer> other = seen.putIfAbsent(port, flag);
      if (other != null) {
        throw new Failure(other.option() + " and " + flag.option() + " are both " + port);
      }
      try (ServerSocket probe = new ServerSocket()) {
        probe.setReuseAddress(true);
        probe.bind(new InetSocketAddress(address, port));
      } catch (IOException e) {
        throw new Failure(flag.option() + " " + port + ": cannot listen: " + e.getMessage());
      }
    }
  }

  /** Fails unless {@code flag} is unset or names a regular file this process can read. */
  static void readableFile(Cli.Flag<Path> flag) throws Failure {
    if (flag.isSet()) {
      String problem = fileProblem(flag.get());
      if (problem != null) {
        throw new Failure(flag.option() + " " + problem);
      }
    }
  }

  /** Fails unless {@code flag} is unset or names a directory holding the readable files {@code names}. */
  static void directoryWith(Cli.Flag<Path> flag, String... names) throws Failure {
    if (!flag.isSet()) {
      return;
    }
    Path dir = flag.get();
    if (!Files.isDirectory(dir)) {
      String why = Files.exists(dir) ? "not a directory" : "no such directory";
      throw new Failure(flag.option() + " " + dir + ": " + why);
    }
    for (String name : names) {
      String problem = fileProblem(dir.resolve(name));
      if (problem != null) {
        throw new Failure(flag.option() + " " + problem);
      }
    }
  }

  /** {@code "<path>: <why>"} if {@code file} cannot be read as a file, else {@code null}. */
  private static String fileProblem(Path file) {
    if (!Files.exists(file)) {
      return file + ": no such file";
    }
    if (Files.isDirectory(file)) {
      return file + ": is a directory";
    }
    if (!Files.isReadable(file)) {
      return file + ": permission denied";
    }
    return null;
  }
}
