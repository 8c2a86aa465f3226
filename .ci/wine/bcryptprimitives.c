/* A test-only stand-in for Windows' bcryptprimitives.dll, for running the Windows tokenfob.exe under Wine 8.
 *
 * Rust's std (1.78 and later) gets its random bytes (HashMap seeds, and through it anything that hashes) from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and later have and Wine 8's builtin copy lacks, so every Rust
 * program stops at start-up under Wine 8 with "unimplemented function bcryptprimitives.dll.ProcessPrng". This DLL
 * provides that one function from RtlGenRandom (advapi32's SystemFunction036), which Wine implements from the host's
 * random source. It is built by .ci/windows, put beside the test copy of tokenfob.exe and loaded with
 * WINEDLLOVERRIDES="bcryptprimitives=n,b". It is never part of a tokenfob release: real Windows has ProcessPrng.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes; RtlGenRandom takes a ULONG, so longer requests go in chunks. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
