//! Windows: a file is ours when its owner SID is our user's (or our token's default owner, which is the
//! Administrators group in an elevated process). Others may write it when its DACL allows a write right (write
//! data, append, delete, change the DACL or the owner, or a generic write) to any SID but ours, SYSTEM, the
//! Administrators group or OWNER RIGHTS; read it likewise for a read right. Those three are the counterpart of
//! root, which Unix does not count either. A missing (NULL) DACL allows everyone everything, so it is refused.
//!
//! What tokenfob creates gets an explicit DACL, protected from inheritance, with one entry: full control for the
//! current user (`D:P(A;OICI;FA;;;<user SID>)` on the directory, inherited by what is created in it). New files are
//! given it before a byte is written. Reparse points (symlinks, junctions, mount points) are refused wherever Unix
//! refuses a symlink: files are opened with `FILE_FLAG_OPEN_REPARSE_POINT` and their attributes checked.
//!
//! Wine (used to test tokenfob on Linux) keeps DACLs in an extended attribute and enforces none of them: there every
//! file is protected by its Unix mode only, and a DACL check sees what Wine reports (normally the DACL tokenfob set).

use std::fs::{File, Metadata, OpenOptions};
use std::io::Write;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::{
    ERROR_ALREADY_EXISTS, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SDDL_REVISION_1,
    SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, CreateWellKnownSid, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetSecurityDescriptorDacl, GetTokenInformation, INHERIT_ONLY_ACE, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, SECURITY_MAX_SID_SIZE,
    TOKEN_OWNER, TOKEN_QUERY, TOKEN_USER, TokenOwner, TokenUser, WELL_KNOWN_SID_TYPE, WinBuiltinAdministratorsSid,
    WinCreatorOwnerRightsSid, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateDirectoryW, DELETE, FILE_APPEND_DATA, FILE_ATTRIBUTE_REPARSE_POINT, FILE_DELETE_CHILD,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_DATA, FILE_WRITE_DATA, READ_CONTROL, WRITE_DAC,
    WRITE_OWNER,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Rights that let someone change what a file or directory holds.
const WRITE_RIGHTS: u32 = FILE_WRITE_DATA
    | FILE_APPEND_DATA
    | FILE_DELETE_CHILD
    | DELETE
    | WRITE_DAC
    | WRITE_OWNER
    | GENERIC_WRITE
    | GENERIC_ALL;
/// Rights that let someone read what a file holds (or list a directory).
const READ_RIGHTS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;

/// Memory that Windows allocated for us (a security descriptor, a string), freed on drop.
struct Local(*mut core::ffi::c_void);

impl Drop for Local {
    fn drop(&mut self) {
        // SAFETY: the pointer came from a call whose documentation says to free it with LocalFree.
        unsafe { LocalFree(self.0) };
    }
}

/// A SID in a buffer of our own (u64s, so that it is aligned for every use).
struct Sid(Vec<u64>);

impl Sid {
    fn ptr(&self) -> PSID {
        self.0.as_ptr() as PSID
    }

    fn well_known(kind: WELL_KNOWN_SID_TYPE) -> std::io::Result<Sid> {
        let mut buf = vec![0u64; SECURITY_MAX_SID_SIZE as usize / 8 + 1];
        let mut size = SECURITY_MAX_SID_SIZE;
        // SAFETY: the buffer holds SECURITY_MAX_SID_SIZE bytes, as `size` says.
        let ok = unsafe { CreateWellKnownSid(kind, std::ptr::null_mut(), buf.as_mut_ptr().cast(), &mut size) };
        if ok == 0 { Err(std::io::Error::last_os_error()) } else { Ok(Sid(buf)) }
    }
}

/// The SIDs of this process's token: its user and its default owner for new objects.
struct Me {
    user: Sid,
    owner: Sid,
}

impl Me {
    fn get() -> std::io::Result<Me> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo handle of this process needs no closing; the token handle is closed below.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `token` was opened for query; TOKEN_USER and TOKEN_OWNER start with a PSID into the same buffer.
        let me = unsafe {
            let user = token_info(token, TokenUser).map(|b| copy_sid((*b.as_ptr().cast::<TOKEN_USER>()).User.Sid));
            let owner = token_info(token, TokenOwner).map(|b| copy_sid((*b.as_ptr().cast::<TOKEN_OWNER>()).Owner));
            windows_sys::Win32::Foundation::CloseHandle(token);
            (user, owner)
        };
        Ok(Me { user: me.0??, owner: me.1?? })
    }

    /// True when `sid` is our user or our token's default owner.
    fn owns(&self, sid: PSID) -> bool {
        // SAFETY: both SIDs are valid for the duration of the call.
        [&self.user, &self.owner].into_iter().any(|mine| unsafe { EqualSid(mine.ptr(), sid) } != 0)
    }

    /// True when `sid` is one whose access does not count as "others".
    fn trusts(&self, sid: PSID) -> bool {
        let trusted = [WinLocalSystemSid, WinBuiltinAdministratorsSid, WinCreatorOwnerRightsSid];
        // SAFETY: both SIDs are valid for the duration of the call.
        let equal = |known: &Sid| unsafe { EqualSid(known.ptr(), sid) } != 0;
        self.owns(sid) || trusted.into_iter().any(|kind| Sid::well_known(kind).is_ok_and(|known| equal(&known)))
    }
}

/// The bytes of one token information class, in an aligned buffer.
///
/// # Safety
/// `token` must be a token handle opened with TOKEN_QUERY.
unsafe fn token_info(token: HANDLE, class: i32) -> std::io::Result<Vec<u64>> {
    let mut size = 0u32;
    // SAFETY: asking for the size only.
    unsafe { GetTokenInformation(token, class, std::ptr::null_mut(), 0, &mut size) };
    let mut buf = vec![0u64; (size as usize).div_ceil(8).max(1)];
    // SAFETY: the buffer holds at least `size` bytes.
    if unsafe { GetTokenInformation(token, class, buf.as_mut_ptr().cast(), size, &mut size) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(buf)
}

/// A copy of a SID into a buffer of our own.
///
/// # Safety
/// `sid` must point to a valid SID.
unsafe fn copy_sid(sid: PSID) -> std::io::Result<Sid> {
    // A SID is 8 bytes plus 4 per sub-authority; its second byte counts them.
    // SAFETY: a valid SID has at least 8 bytes.
    let count = usize::from(unsafe { *sid.cast::<u8>().add(1) });
    let len = 8 + 4 * count;
    let mut buf = vec![0u64; len.div_ceil(8)];
    // SAFETY: both regions hold `len` bytes and do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(sid.cast::<u8>(), buf.as_mut_ptr().cast::<u8>(), len) };
    Ok(Sid(buf))
}

/// A SID as text (`S-1-5-21-...`), for messages.
fn sid_text(sid: PSID) -> String {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid; the string is freed by `Local`.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return "an unknown SID".into();
    }
    let _free = Local(text.cast());
    // SAFETY: the string is NUL-terminated.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: as above, `len` characters.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) })
}

/// What a DACL allows others (see the module comment): write, read.
struct Others {
    writer: Option<String>,
    reader: Option<String>,
}

/// The owner and what the DACL of `handle` allows others.
fn inspect(handle: HANDLE, me: &Me) -> std::io::Result<(bool, Others)> {
    let (mut owner, mut dacl, mut sd): (PSID, *mut ACL, PSECURITY_DESCRIPTOR) =
        (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    let what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    // SAFETY: out pointers to locals; the descriptor they point into is freed by `Local` after use.
    let status = unsafe {
        GetSecurityInfo(
            handle,
            SE_FILE_OBJECT,
            what,
            &mut owner,
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if status != 0 {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    let _free = Local(sd);
    let ours = !owner.is_null() && me.owns(owner);
    let mut others = Others { writer: None, reader: None };
    if dacl.is_null() {
        others.writer = Some("Everyone (it has no access list at all)".into());
        return Ok((ours, others));
    }
    // SAFETY: a non-null DACL from GetSecurityInfo is a valid ACL inside `sd`.
    let count = unsafe { (*dacl).AceCount };
    for i in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `i` is below the ACL's count.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with an ACE_HEADER.
        let header = unsafe { &*ace.cast::<ACE_HEADER>() };
        if u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0 || !matches!(header.AceType, 0 | 9) {
            // Inherit-only entries do not apply to this object; deny entries only take rights away. Object ACEs
            // (directory-service objects) do not occur on files.
            continue;
        }
        // SAFETY: types 0 (allowed) and 9 (allowed callback) have the ACCESS_ALLOWED_ACE layout.
        let allowed = unsafe { &*ace.cast::<ACCESS_ALLOWED_ACE>() };
        let sid = std::ptr::addr_of!(allowed.SidStart) as PSID;
        if me.trusts(sid) {
            continue;
        }
        if allowed.Mask & WRITE_RIGHTS != 0 && others.writer.is_none() {
            others.writer = Some(sid_text(sid));
        }
        if allowed.Mask & READ_RIGHTS != 0 && others.reader.is_none() {
            others.reader = Some(sid_text(sid));
        }
    }
    Ok((ours, others))
}

/// Opens `path` for reading its security, never following a reparse point.
fn open_for_security(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .access_mode(READ_CONTROL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
}

/// Checks that `path` (a directory when `dir`) is not a reparse point, is ours, and that no one else may write it;
/// `Err` says why not. `Ok(true)` when someone else may read it, which [`make_private`] takes away.
pub(crate) fn check(path: &Path, meta: &Metadata, file: Option<&File>, dir: bool) -> Result<bool, String> {
    if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err("it is a symlink or another reparse point (point TOKENFOB_CACHE_DIR at the real directory)".into());
    }
    let opened;
    let file = match file {
        Some(file) => file,
        None => {
            opened = open_for_security(path).map_err(|e| format!("its access list cannot be read: {e}"))?;
            &opened
        }
    };
    let me = Me::get().map_err(|e| format!("this process's user cannot be found: {e}"))?;
    let (ours, others) =
        inspect(file.as_raw_handle(), &me).map_err(|e| format!("its access list cannot be read: {e}"))?;
    if !ours {
        return Err(format!("it is not owned by you ({}); remove it or take ownership", sid_text(me.user.ptr())));
    }
    if let Some(writer) = others.writer {
        let what = if dir { "directory" } else { "file" };
        return Err(format!(
            "others may write to it (its access list lets {writer} change it); remove the {what} and let tokenfob \
             create it again"
        ));
    }
    Ok(others.reader.is_some())
}

/// The protected, current-user-only security descriptor, inheritable by what is created inside when `dir`.
fn private_descriptor(dir: bool) -> std::io::Result<Local> {
    let me = Me::get()?;
    let inherit = if dir { "OICI" } else { "" };
    let sddl = format!("D:P(A;{inherit};FA;;;{})", sid_text(me.user.ptr()));
    let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; the descriptor is freed by `Local`.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            wide.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 { Err(std::io::Error::last_os_error()) } else { Ok(Local(sd)) }
}

/// Gives the open `handle` the private DACL (the handle needs WRITE_DAC).
fn set_private(handle: HANDLE, dir: bool) -> std::io::Result<()> {
    let sd = private_descriptor(dir)?;
    let (mut present, mut defaulted, mut dacl): (i32, i32, *mut ACL) = (0, 0, std::ptr::null_mut());
    // SAFETY: `sd` is a valid descriptor; the DACL pointer points into it and is used while it lives.
    let status = unsafe {
        GetSecurityDescriptorDacl(sd.0, &mut present, &mut dacl, &mut defaulted);
        let what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        SetSecurityInfo(
            handle,
            SE_FILE_OBJECT,
            what,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            dacl,
            std::ptr::null(),
        )
    };
    if status != 0 { Err(std::io::Error::from_raw_os_error(status as i32)) } else { Ok(()) }
}

/// Replaces the DACL of a cache file or directory that others could read by the private one, with a warning: the
/// tokens may have been read already, and only renewing them helps with that.
pub(crate) fn make_private(path: &Path, _file: &File, dir: bool) -> std::io::Result<()> {
    let file = OpenOptions::new()
        .access_mode(READ_CONTROL | WRITE_DAC)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    set_private(file.as_raw_handle(), dir)?;
    let holds = if dir { "the tokens in it" } else { "its tokens" };
    crate::log::warn(format_args!(
        "{} was readable by other accounts; gave it an access list for you alone. {holds} may have leaked: run \
         `tokenfob logout PROFILE` then `tokenfob login PROFILE` to replace them",
        path.display(),
    ));
    Ok(())
}

/// True when the configuration file at `path` is readable by another account (an unreadable DACL counts as yes).
pub(crate) fn config_readable_by_others(path: &Path, _meta: &Metadata) -> bool {
    let Ok(file) = OpenOptions::new().access_mode(READ_CONTROL).open(path) else { return true };
    Me::get().and_then(|me| inspect(file.as_raw_handle(), &me)).map_or(true, |(_, others)| others.reader.is_some())
}

/// Refuses an open file that is a reparse point.
fn refuse_reparse(file: File, refused: impl Fn(String) -> std::io::Error) -> std::io::Result<File> {
    if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(refused("it is a symlink or another reparse point (remove it)".into()));
    }
    Ok(file)
}

/// Opens a cache entry for reading, never following a reparse point. Others may rename over it or delete it
/// meanwhile (std's share mode includes `FILE_SHARE_DELETE`), so a reader never blocks a writer's rename.
pub(crate) fn open_entry(path: &Path, refused: impl Fn(String) -> std::io::Error) -> std::io::Result<File> {
    let file = OpenOptions::new().read(true).custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)?;
    refuse_reparse(file, refused)
}

/// Opens (creating it if needed) a lock file for reading and writing, never following a reparse point. A new one
/// inherits the cache directory's private DACL.
pub(crate) fn open_lock(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    refuse_reparse(file, |why| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why))
}

/// Creates `path` exclusively, gives it the private DACL, then writes `bytes` and flushes them to disk.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .access_mode(GENERIC_WRITE | READ_CONTROL | WRITE_DAC)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    set_private(file.as_raw_handle(), false)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Creates the directory `path` with the private DACL; an existing one is an error when `exclusive`.
fn create_private_dir(path: &Path, exclusive: bool) -> std::io::Result<()> {
    let sd = private_descriptor(true)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd.0,
        bInheritHandle: 0,
    };
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `wide` is NUL-terminated; the attributes and their descriptor live across the call.
    if unsafe { CreateDirectoryW(wide.as_ptr(), &attributes) } != 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(code) if code == ERROR_ALREADY_EXISTS as i32 && !exclusive && path.is_dir() => Ok(()),
        _ => Err(e),
    }
}

/// Creates the directory `path` (private) and any missing parents (with the DACL they inherit, normally the user
/// profile's, which is the user's alone).
pub(crate) fn create_dir_all(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    create_private_dir(path, false)
}

/// Creates the directory `path`, which must not exist yet, with the private DACL.
pub(crate) fn create_dir(path: &Path) -> std::io::Result<()> {
    create_private_dir(path, true)
}
