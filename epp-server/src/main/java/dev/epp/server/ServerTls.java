package dev.epp.server;

import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;

/**
 * The ext_proc server's TLS credentials: a certificate directory as mounted from a Kubernetes TLS secret, or a
 * self-signed certificate generated at start, as the Go EPP does. Failures are {@link EppServer.StartException}s with
 * a one-line message naming the file and the problem.
 */
final class ServerTls {

  /** The certificate chain file in a certificate directory (PEM). */
  static final String CERT_FILE = "tls.crt";
  /** The private key file in a certificate directory (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted). */
  static final String KEY_FILE = "tls.key";

  private static final Pattern PEM = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");
  private static final byte[] RSA_ALGORITHM = { // SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
    0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  private static final byte[] EC_PUBLIC_KEY_OID = { // OID 1.2.840.10045.2.1 (id-ecPublicKey)
    0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
  private static final byte[] SHA256_WITH_RSA = { // SEQUENCE { OID 1.2.840.113549.1.1.11, NULL }
    0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
  private static final byte[] ORGANIZATION_OID = {0x06, 0x03, 0x55, 0x04, 0x0a}; // 2.5.4.10
  private static final byte[] EXTENDED_KEY_USAGE_OID = {0x06, 0x03, 0x55, 0x1d, 0x25}; // 2.5.29.37
  private static final byte[] SERVER_AUTH_OID = { // 1.3.6.1.5.5.7.3.1
    0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};

  private ServerTls() {}

  /**
   * The key manager for {@code dir}/{@value #CERT_FILE} and {@code dir}/{@value #KEY_FILE}, loaded now and able to
   * reload them.
   *
   * @throws EppServer.StartException if the files are unreadable or do not make a pair
   */
  static ReloadingKeyManager keyManager(Path dir) {
    Path certFile = dir.resolve(CERT_FILE);
    Path keyFile = dir.resolve(KEY_FILE);
    return new ReloadingKeyManager(List.of(certFile, keyFile), () -> {
      X509Certificate[] chain = readChain(certFile);
      PrivateKey key = readKey(keyFile);
      checkPair(chain[0], key, certFile, keyFile);
      return new ReloadingKeyManager.Material(key, chain);
    });
  }

  /** Server credentials presenting what {@code keyManager} holds. */
  static ServerCredentials credentials(ReloadingKeyManager keyManager) {
    return TlsServerCredentials.newBuilder().keyManager(keyManager).build();
  }

  /**
   * Credentials with a new self-signed certificate: RSA 2048, {@code O=Inference Ext}, server authentication, valid
   * ten years (the Go EPP uses RSA 4096; 2048 bits start faster and are as widely accepted). The certificate is
   * encoded and signed in this process (no {@code keytool} process: that took a second or more of the start); the key
   * stays in memory only.
   */
  static ServerCredentials selfSigned() {
    try {
      return credentials(selfSignedStore(), new char[0]);
    } catch (GeneralSecurityException e) {
      throw new EppServer.StartException("cannot use the self-signed certificate: " + e, e);
    }
  }

  /** A key store with the key and certificate of {@link #selfSigned()} under the empty password. */
  static KeyStore selfSignedStore() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      KeyPair pair = generator.generateKeyPair();
      byte[] serial = new byte[16];
      new SecureRandom().nextBytes(serial);
      serial[0] = (byte) ((serial[0] & 0x7f) | 0x40); // positive, 16 bytes
      byte[] name = sequence(tlv(0x31, sequence(ORGANIZATION_OID,
          tlv(0x0c, "Inference Ext".getBytes(StandardCharsets.UTF_8)))));
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      byte[] tbs = sequence(
          tlv(0xa0, new byte[] {0x02, 0x01, 0x02}), // version 3
          tlv(0x02, serial),
          SHA256_WITH_RSA,
          name,
          sequence(time(now.minus(Duration.ofMinutes(5))), time(now.plus(Duration.ofDays(3650)))),
          name,
          pair.getPublic().getEncoded(), // SubjectPublicKeyInfo
          tlv(0xa3, sequence(sequence(EXTENDED_KEY_USAGE_OID, tlv(0x04, sequence(SERVER_AUTH_OID))))));
      Signature signer = Signature.getInstance("SHA256withRSA");
      signer.initSign(pair.getPrivate());
      signer.update(tbs);
      byte[] signature = signer.sign();
      byte[] bitString = new byte[signature.length + 1]; // no unused bits
      System.arraycopy(signature, 0, bitString, 1, signature.length);
      Certificate certificate = CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(sequence(tbs, SHA256_WITH_RSA, tlv(0x03, bitString))));
      char[] password = new char[0];
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, password);
      store.setKeyEntry("epp", pair.getPrivate(), password, new Certificate[] {certificate});
      return store;
    } catch (IOException | GeneralSecurityException e) {
      throw new EppServer.StartException("cannot generate a self-signed certificate: " + e, e);
    }
  }

  /** A certificate's validity time: {@code UTCTime} until 2049, {@code GeneralizedTime} after (RFC 5280). */
  private static byte[] time(Instant instant) {
    ZonedDateTime utc = instant.atZone(ZoneOffset.UTC);
    boolean utcTime = utc.getYear() < 2050;
    String text = DateTimeFormatter.ofPattern(utcTime ? "yyMMddHHmmss'Z'" : "yyyyMMddHHmmss'Z'").format(utc);
    return tlv(utcTime ? 0x17 : 0x18, text.getBytes(StandardCharsets.US_ASCII));
  }

  private static ServerCredentials credentials(KeyStore store, char[] password) throws GeneralSecurityException {
    KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    factory.init(store, password);
    return TlsServerCredentials.newBuilder().keyManager(factory.getKeyManagers()).build();
  }

  private static X509Certificate[] readChain(Path file) {
    byte[] bytes = read(file, "certificate");
    try {
      List<? extends Certificate> certificates =
          List.copyOf(CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes)));
      if (certificates.isEmpty()) {
        throw new EppServer.StartException(file + ": no PEM certificate found");
      }
      return certificates.toArray(new X509Certificate[0]);
    } catch (GeneralSecurityException e) {
      throw new EppServer.StartException(file + ": not a PEM certificate chain: " + e.getMessage(), e);
    }
  }

  private static PrivateKey readKey(Path file) {
    String text = new String(read(file, "private key"), StandardCharsets.US_ASCII);
    Matcher pem = PEM.matcher(text);
    while (pem.find()) {
      String type = pem.group(1);
      if (!type.endsWith("PRIVATE KEY")) {
        continue; // e.g. EC PARAMETERS written before the key by openssl ecparam
      }
      byte[] der = Base64.getMimeDecoder().decode(pem.group(2));
      byte[] pkcs8 = switch (type) {
        case "PRIVATE KEY" -> der;
        case "RSA PRIVATE KEY" -> sequence(integerZero(), RSA_ALGORITHM, tlv(0x04, der));
        case "EC PRIVATE KEY" -> sequence(integerZero(), sequence(EC_PUBLIC_KEY_OID, sec1Curve(der, file)),
            tlv(0x04, der));
        default -> throw new EppServer.StartException(file + ": " + type
            + " is not supported; give an unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM key");
      };
      for (String algorithm : new String[] {"RSA", "EC"}) {
        try {
          return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
        } catch (GeneralSecurityException | RuntimeException e) {
          // try the next algorithm
        }
      }
      throw new EppServer.StartException(file + ": not an RSA or EC private key");
    }
    throw new EppServer.StartException(file + ": no PEM private key found");
  }

  /** Fails unless {@code key} signs what the certificate's public key verifies. */
  private static void checkPair(X509Certificate certificate, PrivateKey key, Path certFile, Path keyFile) {
    String algorithm = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
    byte[] probe = "epp-key-check".getBytes(StandardCharsets.US_ASCII);
    boolean matches;
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(probe);
      matches = verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      matches = false;
    }
    if (!matches) {
      throw new EppServer.StartException(keyFile + " is not the private key of the first certificate in " + certFile);
    }
  }

  private static byte[] read(Path file, String what) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new EppServer.StartException("cannot read the TLS " + what + " " + file + ": " + e, e);
    }
  }

  /** The curve OID (a complete TLV) in the {@code [0] parameters} of a SEC1 {@code ECPrivateKey}. */
  private static byte[] sec1Curve(byte[] der, Path file) {
    // ECPrivateKey ::= SEQUENCE { version INTEGER, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] ... }
    int[] outer = header(der, 0);
    for (int at = outer[1]; at < outer[2]; ) {
      int[] element = header(der, at);
      if (element[0] == 0xa0) {
        int[] oid = header(der, element[1]);
        if (oid[0] == 0x06) {
          return Arrays.copyOfRange(der, element[1], oid[2]);
        }
      }
      at = element[2];
    }
    throw new EppServer.StartException(file + ": the EC private key does not name its curve");
  }

  /** {@code {tag, valueStart, valueEnd}} of the DER element at {@code at}. */
  private static int[] header(byte[] der, int at) {
    if (at + 2 > der.length) {
      throw new EppServer.StartException("malformed DER in the private key");
    }
    int tag = der[at] & 0xff;
    int length = der[at + 1] & 0xff;
    int start = at + 2;
    if (length >= 0x80) {
      int bytes = length & 0x7f;
      length = 0;
      for (int i = 0; i < bytes && start < der.length; i++) {
        length = (length << 8) | (der[start++] & 0xff);
      }
    }
    if (length < 0 || start + length > der.length) {
      throw new EppServer.StartException("malformed DER in the private key");
    }
    return new int[] {tag, start, start + length};
  }

  private static byte[] integerZero() {
    return new byte[] {0x02, 0x01, 0x00};
  }

  private static byte[] sequence(byte[]... parts) {
    ByteArrayOutputStream content = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      content.writeBytes(part);
    }
    return tlv(0x30, content.toByteArray());
  }

  private static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(value.length + 6);
    out.write(tag);
    int length = value.length;
    if (length < 0x80) {
      out.write(length);
    } else {
      int bytes = (32 - Integer.numberOfLeadingZeros(length) + 7) / 8;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(length >>> (8 * i));
      }
    }
    out.writeBytes(value);
    return out.toByteArray();
  }
}
