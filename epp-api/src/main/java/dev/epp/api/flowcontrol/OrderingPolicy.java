package dev.epp.api.flowcontrol;

import dev.epp.api.Plugin;

/**
 * Orders the requests of one flow: the smallest request by {@link #compare} is dispatched first. The controller
 * breaks ties by arrival, so a policy need not. Must be a consistent total preorder and depend only on the requests'
 * fields (their order inside a queue is fixed when they enter it).
 */
public interface OrderingPolicy extends Plugin {

  /** Negative if {@code a} goes before {@code b}, positive if after, 0 if the policy has no preference. */
  int compare(QueuedRequest a, QueuedRequest b);
}
