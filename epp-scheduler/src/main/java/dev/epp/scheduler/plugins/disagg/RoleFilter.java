package dev.epp.scheduler.plugins.disagg;

import dev.epp.api.PluginFactory;
import dev.epp.api.PluginHandle;
import dev.epp.api.PluginSpec;
import dev.epp.api.RequestContext;
import dev.epp.api.TypedName;
import dev.epp.api.scheduling.Candidates;
import dev.epp.api.scheduling.Filter;
import java.util.BitSet;
import java.util.Set;

/**
 * Keeps the endpoints whose {@value #ROLE_LABEL} label names a role that serves one disaggregation stage, as llm-d's
 * role filters do. No parameters.
 *
 * <ul>
 *   <li>{@code prefill-filter}: {@code prefill}, {@code encode-prefill}, {@code prefill-decode},
 *       {@code encode-prefill-decode}, {@code both} (deprecated);
 *   <li>{@code decode-filter}: {@code decode}, {@code prefill-decode}, {@code encode-prefill-decode}, {@code both},
 *       and endpoints without the label;
 *   <li>{@code encode-filter}: {@code encode}, {@code encode-prefill}, {@code encode-prefill-decode}.
 * </ul>
 */
public final class RoleFilter implements Filter {

  /** The endpoint label naming the endpoint's roles. */
  public static final String ROLE_LABEL = "llm-d.ai/role";
  /** The prefill filter's type. */
  public static final String PREFILL_TYPE = "prefill-filter";
  /** The decode filter's type. */
  public static final String DECODE_TYPE = "decode-filter";
  /** The encode filter's type. */
  public static final String ENCODE_TYPE = "encode-filter";

  private final TypedName typedName;
  private final Set<String> roles;
  private final boolean keepsUnlabelled;

  private RoleFilter(TypedName typedName, Set<String> roles, boolean keepsUnlabelled) {
    this.typedName = typedName;
    this.roles = roles;
    this.keepsUnlabelled = keepsUnlabelled;
  }

  /** A {@code prefill-filter} named {@code name}. */
  public static RoleFilter prefill(String name) {
    return new RoleFilter(new TypedName(PREFILL_TYPE, name),
        Set.of("prefill", "encode-prefill", "prefill-decode", "encode-prefill-decode", "both"), false);
  }

  /** A {@code decode-filter} named {@code name}. */
  public static RoleFilter decode(String name) {
    return new RoleFilter(new TypedName(DECODE_TYPE, name),
        Set.of("decode", "prefill-decode", "encode-prefill-decode", "both"), true);
  }

  /** An {@code encode-filter} named {@code name}. */
  public static RoleFilter encode(String name) {
    return new RoleFilter(new TypedName(ENCODE_TYPE, name),
        Set.of("encode", "encode-prefill", "encode-prefill-decode"), false);
  }

  @Override
  public TypedName typedName() {
    return typedName;
  }

  @Override
  public void filter(RequestContext context, Candidates candidates, BitSet keep) {
    for (int i = 0, n = candidates.size(); i < n; i++) {
      String role = candidates.endpoint(i).labels().get(ROLE_LABEL);
      if (role == null ? !keepsUnlabelled : !roles.contains(role)) {
        keep.clear(i);
      }
    }
  }

  /** Creates {@code prefill-filter}s. */
  public static final class PrefillFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public PrefillFactory() {}

    @Override
    public String type() {
      return PREFILL_TYPE;
    }

    @Override
    public RoleFilter create(PluginSpec spec, PluginHandle handle) {
      return prefill(spec.name());
    }
  }

  /** Creates {@code decode-filter}s. */
  public static final class DecodeFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public DecodeFactory() {}

    @Override
    public String type() {
      return DECODE_TYPE;
    }

    @Override
    public RoleFilter create(PluginSpec spec, PluginHandle handle) {
      return decode(spec.name());
    }
  }

  /** Creates {@code encode-filter}s. */
  public static final class EncodeFactory implements PluginFactory {

    /** For {@link java.util.ServiceLoader}. */
    public EncodeFactory() {}

    @Override
    public String type() {
      return ENCODE_TYPE;
    }

    @Override
    public RoleFilter create(PluginSpec spec, PluginHandle handle) {
      return encode(spec.name());
    }
  }
}
