package storage

import (
	"sync/atomic"
	"testing"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

// BenchmarkUnlock measures one unlock as a fresh process does it — open the TPM, open
// the vault, Argon2id of the PIN, unseal — and counts the TPM commands it sends
// (tpm-cmds/op; the commands sent when the TPM connection is opened are reported apart
// as tpm-open-cmds/op): real TPMs take 10–200 ms per command. It runs against the in-process
// simulator and, where installed, swtpm over TCP; default Argon2id parameters.
func BenchmarkUnlock(b *testing.B) {
	for _, tc := range []struct {
		name string
		spec func(testing.TB) platform.Spec
	}{
		{"sim", tpmtest.SimSpec},
		{"swtpm", tpmtest.StartSWTPM},
	} {
		b.Run(tc.name, func(b *testing.B) {
			spec := tc.spec(b)
			dir := b.TempDir()
			tpm, err := platform.Open(spec)
			if err != nil {
				b.Skipf("TPM %s: %v", spec, err)
			}
			v, err := Create(Config{Dir: dir, TPM: tpm, Spec: spec}, CreateOptions{User: "anna", PIN: pinAnna})
			if err != nil {
				b.Fatal(err)
			}
			v.Close()
			tpm.Close()

			var cmds atomic.Int64
			var unlockCmds int64
			for b.Loop() {
				tpm, err := platform.Open(spec, platform.WithCommandCounter(&cmds))
				if err != nil {
					b.Fatal(err)
				}
				v, err := Open(Config{Dir: dir, TPM: tpm, Spec: spec})
				if err != nil {
					b.Fatal(err)
				}
				before := cmds.Load() // TPM start-up commands at Open are not the unlock's
				if err := v.Unlock("anna", pinAnna); err != nil {
					b.Fatal(err)
				}
				unlockCmds += cmds.Load() - before
				v.Close()
				tpm.Close()
			}
			b.ReportMetric(float64(unlockCmds)/float64(b.N), "tpm-cmds/op")
			b.ReportMetric(float64(cmds.Load()-unlockCmds)/float64(b.N), "tpm-open-cmds/op")
		})
	}
}
