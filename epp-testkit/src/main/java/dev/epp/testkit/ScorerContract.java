package dev.epp.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Scorer;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@link Scorer} contract as reusable tests: implement {@link #newScorer()} (and {@link #factory()} to check the
 * factory too). Checks that a scorer writes a score in [0, 1] for every candidate and nothing beyond, copes with
 * empty, single and never-scraped candidates, leaves its inputs alone, and is safe to call concurrently.
 *
 * @param <S> the scorer type
 */
public interface ScorerContract<S extends Scorer> extends PluginContract {

  /** A value no scorer writes, used to detect writes beyond the candidates. */
  double SENTINEL = -42.0;

  /** A new scorer to test. */
  S newScorer();

  @Test
  default void scoresEveryCandidateInUnitInterval() {
    S scorer = newScorer();
    for (Candidates candidates : Fixtures.candidateSets()) {
      scoreAndCheck(scorer, candidates);
    }
  }

  @Test
  default void emptyCandidatesWriteNothing() {
    double[] scores = scoreAndCheck(newScorer(), Fixtures.candidates());
    assertEquals(SENTINEL, scores[0]);
  }

  @Test
  default void scoresSingleCandidate() {
    scoreAndCheck(newScorer(), Fixtures.candidates(Fixtures.metrics(5, 0.5, Fixtures.ADAPTER)));
  }

  @Test
  default void scoresNeverScrapedCandidates() {
    scoreAndCheck(newScorer(), Fixtures.unscraped(1));
    scoreAndCheck(newScorer(), Fixtures.unscraped(5));
  }

  @Test
  default void leavesInputsUnchanged() {
    Candidates candidates = Fixtures.skewed();
    var context = newContext();
    var request = context.request();
    List<Object> before = ContractSupport.snapshot(candidates);
    scoreAndCheck(newScorer(), candidates);
    assertEquals(before, ContractSupport.snapshot(candidates), "candidates changed");
    assertEquals(request, context.request());
  }

  @Test
  default void isSafeToCallConcurrently() throws Exception {
    S scorer = newScorer();
    Candidates candidates = Fixtures.skewed();
    ContractSupport.hammer(() -> scoreAndCheck(scorer, candidates));
  }

  /**
   * Scores {@code candidates} with {@code scorer} into zeros followed by a {@link #SENTINEL}, asserts every score is
   * in [0, 1] and the sentinel untouched, and returns the scores.
   */
  private double[] scoreAndCheck(S scorer, Candidates candidates) {
    int n = candidates.size();
    double[] scores = new double[n + 2];
    scores[n] = SENTINEL;
    scores[n + 1] = SENTINEL;
    scorer.score(newContext(), candidates, scores);
    for (int i = 0; i < n; i++) {
      double score = scores[i];
      int index = i;
      assertTrue(score >= 0 && score <= 1, () -> "candidate " + index + " scored " + score + " (of " + n + ")");
    }
    assertEquals(SENTINEL, scores[n], "wrote beyond the candidates");
    assertEquals(SENTINEL, scores[n + 1], "wrote beyond the candidates");
    return scores;
  }
}
