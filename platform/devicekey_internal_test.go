package platform

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// eccParms returns the ECC parameters of a device key with the given curve and hash.
func eccParms(curve tpm2.TPMECCCurve, hash tpm2.TPMAlgID) tpm2.TPMUPublicParms {
	return tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: hash}),
		},
		CurveID: curve,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
}

// encodeKeyFile encodes f as a TPM device key file.
func encodeKeyFile(t *testing.T, f tpmKeyFile) []byte {
	t.Helper()
	der, err := asn1.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeTPMKey, Bytes: der})
}

// TestParseTPMKeyFile checks that only key files of keys as CreateDeviceKey makes
// them are accepted: P-256 ECDSA/SHA-256 unrestricted signing keys generated in the
// TPM that cannot leave it.
func TestParseTPMKeyFile(t *testing.T) {
	sw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sw.PublicKey.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil {
		t.Fatal(err)
	}
	point := tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: raw[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: raw[33:]},
	})
	offCurve := tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: raw[1:33]},
		Y: tpm2.TPM2BECCParameter{Buffer: raw[1:33]},
	})
	srkName := []byte{0, 0x0b, 1, 2, 3}
	file := func(mod func(pub *tpm2.TPMTPublic, f *tpmKeyFile)) []byte {
		pub := deviceKeyTemplate // the unions' contents are shared: replace, never modify them
		pub.Unique = point
		f := tpmKeyFile{Version: tpmKeyFileVersion, Private: tpm2.Marshal(tpm2.TPM2BPrivate{Buffer: []byte{1, 2, 3}}), SRKName: srkName}
		if mod != nil {
			mod(&pub, &f)
		}
		if f.Public == nil {
			f.Public = tpm2.Marshal(tpm2.New2B(pub))
		}
		return encodeKeyFile(t, f)
	}

	k, err := parseTPMKeyFile(file(nil))
	if err != nil {
		t.Fatalf("parse a good key file: %v", err)
	}
	if !k.pub.Equal(&sw.PublicKey) || string(k.srkName) != string(srkName) {
		t.Errorf("parsed public key or SRK name differ")
	}

	sealedObject := tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgKeyedHash,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash,
			&tpm2.TPMSKeyedHashParms{Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull}}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: make([]byte, 32)}),
	}
	tests := []struct {
		name string
		mod  func(pub *tpm2.TPMTPublic, f *tpmKeyFile)
	}{
		{"version 2", func(_ *tpm2.TPMTPublic, f *tpmKeyFile) { f.Version = 2 }},
		{"no SRK name", func(_ *tpm2.TPMTPublic, f *tpmKeyFile) { f.SRKName = nil }},
		{"public area garbage", func(_ *tpm2.TPMTPublic, f *tpmKeyFile) { f.Public = []byte{0, 9, 1} }},
		{"private area garbage", func(_ *tpm2.TPMTPublic, f *tpmKeyFile) { f.Private = []byte{0, 9, 1} }},
		{"sealed object", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { *pub = sealedObject }},
		{"imported (not sensitiveDataOrigin)", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.SensitiveDataOrigin = false }},
		{"duplicable (not fixedTPM)", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.FixedTPM = false }},
		{"not fixedParent", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.FixedParent = false }},
		{"policy only (no userWithAuth)", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.UserWithAuth = false }},
		{"restricted", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.Restricted = true }},
		{"decrypt", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.ObjectAttributes.Decrypt = true }},
		{"P-384", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) {
			pub.Parameters = eccParms(tpm2.TPMECCNistP384, tpm2.TPMAlgSHA256)
		}},
		{"ECDSA/SHA-384", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) {
			pub.Parameters = eccParms(tpm2.TPMECCNistP256, tpm2.TPMAlgSHA384)
		}},
		{"point not on curve", func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) { pub.Unique = offCurve }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseTPMKeyFile(file(tc.mod)); !errors.Is(err, ErrBadDeviceKey) {
				t.Errorf("parseTPMKeyFile = %v, want ErrBadDeviceKey", err)
			} else {
				t.Logf("%v", err)
			}
		})
	}

	t.Run("trailing bytes", func(t *testing.T) {
		block, _ := pem.Decode(file(nil))
		block.Bytes = append(block.Bytes, 0)
		if _, err := parseTPMKeyFile(pem.EncodeToMemory(block)); !errors.Is(err, ErrBadDeviceKey) {
			t.Errorf("parseTPMKeyFile = %v, want ErrBadDeviceKey", err)
		}
	})
	// The eccParms helper itself yields a good key (so the cases above fail for the
	// reason they name).
	if _, err := parseTPMKeyFile(file(func(pub *tpm2.TPMTPublic, _ *tpmKeyFile) {
		pub.Parameters = eccParms(tpm2.TPMECCNistP256, tpm2.TPMAlgSHA256)
	})); err != nil {
		t.Errorf("eccParms(P-256, SHA-256): %v", err)
	}
}
