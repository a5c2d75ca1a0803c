// Imports the linker resolves when it merges the adapter with a guest (packages/build/src/wasmedge.ts):
// the guest's exports, and a glue module that copies between the two memories (AssemblyScript emits
// no multi-memory instructions) and holds the function's config as a passive data segment.

@external("wfn_guest", "wfn_handle") export declare function guest_handle(): i32;
@external("wfn_guest", "wfn_init") export declare function guest_init(): void;
@external("wfn_guest", "wfn_abi_version") export declare function guest_abi_version(): i32;

/** Copies len bytes from the adapter's memory at src to the guest's memory at dst. */
@external("wfn_glue", "to_guest") export declare function to_guest(dst: u32, src: usize, len: u32): void;
/** Copies len bytes from the guest's memory at src to the adapter's memory at dst. */
@external("wfn_glue", "from_guest") export declare function from_guest(dst: usize, src: u32, len: u32): void;
/** The guest memory's size in bytes. */
@external("wfn_glue", "guest_size") export declare function guest_size(): u32;
@external("wfn_glue", "config_len") export declare function config_len(): u32;
@external("wfn_glue", "config_copy") export declare function config_copy(dst: usize): void;
