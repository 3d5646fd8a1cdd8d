internal import CTSS2

extension TPM2Error {
    /// Throws unless `rc` is TSS2_RC_SUCCESS; every ESAPI and TCTI call's result passes through here.
    static func check(
        _ rc: TSS2_RC,
        operation: String,
        tcti: String,
        file: String = #fileID,
        line: Int = #line
    ) throws(TPM2Error) {
        guard rc != TSS2_RC_SUCCESS else { return }
        throw .responseCode(rc, operation: operation, tcti: tcti, file: file, line: line)
    }

    /// tpm2-tss's own text for the code ("tcti:IO failure", "tpm:error(2.0): ..."), copied at once
    /// because the library reuses one buffer for every call.
    static func decode(_ rc: UInt32) -> String {
        guard let text = Tss2_RC_Decode(rc) else { return "no description" }
        return String(cString: text)
    }

    /// What an operator or a developer should do about `rc`, which came from the TCTI `tcti`.
    static func advice(for rc: UInt32, tcti: String) -> String {
        switch rc & CTSS2_RC_LAYER_MASK {
        case CTSS2_TCTI_RC_LAYER:
            return tctiAdvice(for: rc & ~CTSS2_RC_LAYER_MASK, tcti: tcti)
        case CTSS2_ESAPI_RC_LAYER:
            return "ESAPI refused the call before or after the TPM saw it; this is a bug in the TPM2 wrapper "
                + "or the TPM sent a malformed answer. Report it with this code."
        case CTSS2_TPM_RC_LAYER:
            return tpmAdvice(for: normalizedTPMCode(rc))
        default:
            return "See the tpm2-tss documentation for this layer's codes."
        }
    }

    private static func tctiAdvice(for base: UInt32, tcti: String) -> String {
        switch base {
        case TSS2_BASE_RC_NOT_SUPPORTED, TSS2_BASE_RC_NOT_IMPLEMENTED:
            return "No TCTI library answers to that name: check the spelling (swtpm, mssim, device, tabrmd) "
                + "and that its package (libtss2-tcti-<name>0) is installed."
        case TSS2_BASE_RC_BAD_VALUE, TSS2_BASE_RC_BAD_REFERENCE:
            return "The TCTI rejected its configuration: write it as \"swtpm:host=127.0.0.1,port=2321\" or "
                + "\"device:/dev/tpmrm0\"."
        case TSS2_BASE_RC_TRY_AGAIN:
            return "The TPM did not answer in time; retry, and if it persists the TPM is hung."
        default:
            if tcti.hasPrefix("device") {
                return "The TPM device could not be used: does it exist (is the tpm_tis/tpm_crb driver loaded), "
                    + "and may this user open it (group tss, or root)?"
            }
            return "The TPM could not be reached: is swtpm running on that port (swtpm socket --tpm2 "
                + "--server type=tcp,port=P --ctrl type=tcp,port=P+1), and is nothing else connected to it?"
        }
    }

    /// Format-one codes carry the number of the offending handle, session or parameter; strip it so
    /// that one code names one cause.
    private static func normalizedTPMCode(_ rc: UInt32) -> UInt32 {
        let code = rc & ~CTSS2_RC_LAYER_MASK
        guard code & TPM2_RC_FMT1 != 0 else { return code }
        return code & ~(TPM2_RC_N_MASK | TPM2_RC_P)
    }

    private static func tpmAdvice(for code: UInt32) -> String {
        switch code {
        case CTSS2_RC_INITIALIZE:
            return "The TPM has not been started (TPM2_Startup); reconnect so that the connection starts it."
        case CTSS2_RC_FAILURE:
            return "The TPM is in failure mode and refuses every command; reboot the machine, and if it "
                + "persists the TPM must be replaced."
        case CTSS2_RC_RETRY, CTSS2_RC_YIELDED, CTSS2_RC_TESTING:
            return "The TPM is busy for a moment; retry the command."
        case CTSS2_RC_LOCKOUT:
            return "The TPM is in dictionary-attack lockout after failed authorisations; wait for the lockout "
                + "interval or have the lockout authority reset it. Do not retry blindly."
        case CTSS2_RC_OBJECT_MEMORY, CTSS2_RC_SESSION_MEMORY, CTSS2_RC_MEMORY:
            return "The TPM's slots are full: without a resource manager (swtpm, /dev/tpm0) every transient "
                + "object and session must be flushed; use /dev/tpmrm0, or find the missing flush."
        case CTSS2_RC_POLICY_FAIL, CTSS2_RC_PCR_CHANGED:
            return "The policy was not satisfied: the PCRs or other conditions differ from those the object "
                + "was sealed to, so the machine's boot state is not the expected one."
        case CTSS2_RC_AUTH_FAIL, CTSS2_RC_BAD_AUTH:
            return "The authorisation value was wrong; repeated failures lead to dictionary-attack lockout."
        case CTSS2_RC_HASH, CTSS2_RC_VALUE:
            return "The TPM rejected a parameter: is that PCR bank or algorithm allocated on this TPM "
                + "(tpm2_getcap pcrs)?"
        case CTSS2_RC_LOCALITY:
            return "The command is not allowed from this locality (some PCRs may only be changed by "
                + "firmware)."
        default:
            return "See TPM 2.0 Library Specification part 2, section 6.6 (TPM_RC), for this code."
        }
    }
}
