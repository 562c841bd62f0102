package dev.epp.examples.simulator;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Draws the benchmark's time to first token as a PNG bar chart: p50, p90 and p99 side by side per configuration, on
 * a logarithmic axis so that a 3x difference reads the same at any height; or its time per output token, p50 and p90,
 * on a linear axis from 0. Rendered headless.
 */
final class TtftChart {

  /** The narrowest chart; a wider one gives each configuration {@value #MIN_GROUP_WIDTH} pixels. */
  private static final int WIDTH = 1280;
  private static final int MIN_GROUP_WIDTH = 160;
  private static final int HEIGHT = 540;
  private static final int LEFT = 80;
  private static final int RIGHT = 30;
  private static final int TOP = 60;
  private static final int BOTTOM = 100;
  private static final Color[] COLORS = {new Color(0x9ecae1), new Color(0x4292c6), new Color(0x08519c)};

  /** What a chart shows: a title, its bars' names and values per row, and whether its axis is logarithmic. */
  private record Metric(String title, String[] series, Function<RoutingBench.Row, double[]> values, boolean log) {}

  private static final Metric TTFT = new Metric("Time to first token by scheduler configuration, %s workload (ms, log "
      + "scale)", new String[] {"TTFT p50", "TTFT p90", "TTFT p99"},
      row -> new double[] {row.ttftP50Ms(), row.ttftP90Ms(), row.ttftP99Ms()}, true);
  private static final Metric TPOT = new Metric("Time per output token by scheduler configuration, %s workload (ms)",
      new String[] {"TPOT p50", "TPOT p90"}, row -> new double[] {row.tpotP50Ms(), row.tpotP90Ms()}, false);

  private TtftChart() {}

  /** Writes the TTFT chart of {@code rows}, the results of the workload {@code workload}, to {@code file}. */
  static void write(String workload, List<RoutingBench.Row> rows, Path file) throws IOException {
    write(TTFT, workload, rows, file);
  }

  /** Writes the time-per-output-token chart of {@code rows}, the results of {@code workload}, to {@code file}. */
  static void writeTpot(String workload, List<RoutingBench.Row> rows, Path file) throws IOException {
    write(TPOT, workload, rows, file);
  }

  private static void write(Metric metric, String workload, List<RoutingBench.Row> rows, Path file)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    int width = Math.max(WIDTH, LEFT + RIGHT + rows.size() * MIN_GROUP_WIDTH);
    BufferedImage image = new BufferedImage(width, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      draw(g, width, metric, workload, rows);
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(image, "png", file.toFile())) {
      throw new IOException("no PNG writer");
    }
  }

  private static void draw(Graphics2D g, int width, Metric metric, String workload, List<RoutingBench.Row> rows) {
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, HEIGHT);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
    g.drawString(String.format(Locale.ROOT, metric.title(), workload), LEFT, 32);

    double max = 1;
    double min = Double.MAX_VALUE;
    for (RoutingBench.Row row : rows) {
      double[] values = metric.values().apply(row);
      max = Math.max(max, values[values.length - 1]);
      min = Math.min(min, Math.max(1, values[0]));
    }
    Axis axis = metric.log() ? Axis.log(min, max) : Axis.linear(max);
    int plotHeight = HEIGHT - TOP - BOTTOM;
    int plotWidth = width - LEFT - RIGHT;

    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    FontMetrics metrics = g.getFontMetrics();
    for (double tick : axis.ticks()) {
      int y = axis.y(tick, plotHeight);
      g.setColor(new Color(0xdddddd));
      g.drawLine(LEFT, y, width - RIGHT, y);
      g.setColor(Color.DARK_GRAY);
      String label = String.format(Locale.ROOT, "%,d", (long) tick);
      g.drawString(label, LEFT - 8 - metrics.stringWidth(label), y + 4);
    }

    int groupWidth = plotWidth / Math.max(1, rows.size());
    int barWidth = groupWidth / 5;
    for (int r = 0; r < rows.size(); r++) {
      RoutingBench.Row row = rows.get(r);
      double[] values = metric.values().apply(row);
      int x0 = LEFT + r * groupWidth + barWidth;
      for (int s = 0; s < values.length; s++) {
        int x = x0 + s * barWidth;
        int y = axis.y(Math.max(values[s], axis.lo()), plotHeight);
        g.setColor(COLORS[s]);
        g.fillRect(x, y, barWidth - 4, TOP + plotHeight - y);
        g.setColor(Color.BLACK);
        String value = String.format(Locale.ROOT, metric.log() ? "%,.0f" : "%,.1f", values[s]);
        g.drawString(value, x + (barWidth - 4 - metrics.stringWidth(value)) / 2, y - 4);
      }
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
      FontMetrics bold = g.getFontMetrics();
      int center = LEFT + r * groupWidth + groupWidth / 2;
      // "default (queue+kv+prefix)" is drawn as two lines, "default" and "(queue+kv+prefix)"
      int open = row.config().indexOf(" (");
      String name = open < 0 ? row.config() : row.config().substring(0, open);
      g.drawString(name, center - bold.stringWidth(name) / 2, TOP + plotHeight + 20);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      if (open >= 0) {
        String detail = row.config().substring(open + 1);
        g.drawString(detail, center - metrics.stringWidth(detail) / 2, TOP + plotHeight + 36);
      }
      String hits = String.format(Locale.ROOT, "cache hits %.0f%%", row.hitRate() * 100);
      g.drawString(hits, center - metrics.stringWidth(hits) / 2, TOP + plotHeight + 52);
    }

    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1));
    g.drawLine(LEFT, TOP + plotHeight, width - RIGHT, TOP + plotHeight);
    int legendX = LEFT;
    int legendY = HEIGHT - 22;
    for (int s = 0; s < metric.series().length; s++) {
      g.setColor(COLORS[s]);
      g.fillRect(legendX, legendY - 10, 14, 12);
      g.setColor(Color.BLACK);
      g.drawString(metric.series()[s], legendX + 20, legendY);
      legendX += 110;
    }
  }

  /** The value axis: from {@code lo} to {@code hi}, in decades when {@code log}. */
  private record Axis(double lo, double hi, boolean log) {

    /** Whole decades around {@code min} and {@code max}. */
    static Axis log(double min, double max) {
      double lo = Math.floor(Math.log10(min));
      double hi = Math.ceil(Math.log10(max));
      return new Axis(Math.pow(10, lo), Math.pow(10, hi <= lo ? lo + 1 : hi), true);
    }

    /** From 0 to {@code max} rounded up to a multiple of 5. */
    static Axis linear(double max) {
      return new Axis(0, Math.ceil(max / 5) * 5, false);
    }

    /** The gridlines: every decade, or every fifth of the range. */
    List<Double> ticks() {
      List<Double> ticks = new ArrayList<>();
      for (double tick = lo; tick <= hi * 1.0001; tick = log ? tick * 10 : tick + hi / 5) {
        ticks.add(tick);
      }
      return ticks;
    }

    int y(double value, int plotHeight) {
      double fraction = log ? (Math.log10(value) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
          : (value - lo) / (hi - lo);
      return TOP + plotHeight - (int) Math.round(fraction * plotHeight);
    }
  }
}
