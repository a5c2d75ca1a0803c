import { WfnError } from "@wasm-fn/abi";

/**
 * Every error code @wasm-fn/oci throws, in one place. Codes are stable: scripts and the lead's
 * CLI wrapper match on them, so rename nothing; add new codes at the end of their group.
 */
export const OciErrorCode = {
  // references and local files
  REF_INVALID: "WFN_REF_INVALID",
  LAYOUT_INVALID: "WFN_OCI_LAYOUT_INVALID",
  LAYOUT_NOT_BUILT: "WFN_OCI_LAYOUT_NOT_BUILT",
  ARCHIVE_UNSAFE: "WFN_OCI_ARCHIVE_UNSAFE",
  ARCHIVE_INVALID: "WFN_OCI_ARCHIVE_INVALID",
  IMAGE_INVALID: "WFN_OCI_IMAGE_INVALID",
  DIGEST_MISMATCH: "WFN_OCI_DIGEST_MISMATCH",
  PLATFORM_NOT_FOUND: "WFN_OCI_PLATFORM_NOT_FOUND",
  CONFIG_INVALID: "WFN_OCI_CONFIG_INVALID",
  // talking to a registry
  REGISTRY_UNAUTHORIZED: "WFN_REGISTRY_UNAUTHORIZED",
  REGISTRY_FORBIDDEN: "WFN_REGISTRY_FORBIDDEN",
  REGISTRY_NOT_FOUND: "WFN_REGISTRY_NOT_FOUND",
  REGISTRY_RATE_LIMITED: "WFN_REGISTRY_RATE_LIMITED",
  REGISTRY_SERVER_ERROR: "WFN_REGISTRY_SERVER_ERROR",
  REGISTRY_UNEXPECTED: "WFN_REGISTRY_UNEXPECTED",
  REGISTRY_UNREACHABLE: "WFN_REGISTRY_UNREACHABLE",
  REGISTRY_INSECURE_REQUIRED: "WFN_REGISTRY_INSECURE_REQUIRED",
  REGISTRY_UPLOAD_FAILED: "WFN_REGISTRY_UPLOAD_FAILED",
  // credentials
  CREDENTIALS_HELPER_FAILED: "WFN_CREDENTIALS_HELPER_FAILED",
  CREDENTIALS_INVALID: "WFN_CREDENTIALS_INVALID",
  CREDENTIALS_MISSING: "WFN_CREDENTIALS_MISSING",
} as const;

export type OciErrorCode = (typeof OciErrorCode)[keyof typeof OciErrorCode];

/** Shorthand used across the package so every throw names a code from the table above. */
export function ociError(code: OciErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}): WfnError {
  return new WfnError(code, message, opts);
}

export { WfnError };
