package platform

import (
	"encoding/binary"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// retryTPM resends a command the TPM answered with TPM_RC_RETRY, TPM_RC_YIELDED or
// TPM_RC_TESTING: those mean the command was not executed, so resending the same
// bytes (same session nonces) is correct (TPM 2.0 Part 2, 6.6.3).
type retryTPM struct {
	next transport.TPM
}

// maxRetries bounds the resends of one command.
const maxRetries = 20

// Send implements transport.TPM.
func (r *retryTPM) Send(cmd []byte) ([]byte, error) {
	delay := time.Millisecond
	for i := 0; ; i++ {
		rsp, err := r.next.Send(cmd)
		if err != nil || len(rsp) < 10 || i == maxRetries {
			return rsp, err
		}
		switch tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])) {
		case tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting:
			time.Sleep(delay)
			delay = min(2*delay, 100*time.Millisecond)
			continue
		}
		return rsp, nil
	}
}
