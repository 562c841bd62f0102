package dev.epp.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerTlsTest {

  @Test
  void theSelfSignedCertificateIsAValidRsa2048ServerCertificateForTenYears() throws Exception {
    KeyStore store = ServerTls.selfSignedStore();
    X509Certificate certificate = (X509Certificate) store.getCertificate("epp");
    PrivateKey key = (PrivateKey) store.getKey("epp", new char[0]);

    certificate.verify(certificate.getPublicKey()); // self-signed
    certificate.checkValidity();
    assertEquals(3, certificate.getVersion());
    assertEquals("O=Inference Ext", certificate.getSubjectX500Principal().getName());
    assertEquals(certificate.getSubjectX500Principal(), certificate.getIssuerX500Principal());
    assertEquals(List.of("1.3.6.1.5.5.7.3.1"), certificate.getExtendedKeyUsage()); // serverAuth
    assertEquals(2048, ((RSAPublicKey) certificate.getPublicKey()).getModulus().bitLength());
    assertEquals("SHA256withRSA", certificate.getSigAlgName());
    long days = Duration.between(Instant.now(), certificate.getNotAfter().toInstant()).toDays();
    assertTrue(days >= 3649 && days <= 3650, "valid for " + days + " more days");

    Signature signer = Signature.getInstance("SHA256withRSA");
    signer.initSign(key);
    signer.update(new byte[] {1, 2, 3});
    Signature verifier = Signature.getInstance("SHA256withRSA");
    verifier.initVerify(certificate);
    verifier.update(new byte[] {1, 2, 3});
    assertTrue(verifier.verify(signer.sign()), "the key is the certificate's");
  }

  @Test
  void eachSelfSignedCertificateHasItsOwnKeyAndSerialNumber() throws Exception {
    X509Certificate first = (X509Certificate) ServerTls.selfSignedStore().getCertificate("epp");
    X509Certificate second = (X509Certificate) ServerTls.selfSignedStore().getCertificate("epp");

    assertNotEquals(first.getSerialNumber(), second.getSerialNumber());
    assertNotEquals(first.getPublicKey(), second.getPublicKey());
    assertEquals(1, first.getSerialNumber().signum());
  }
}
