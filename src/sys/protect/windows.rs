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
use std::os::windows::io::{AsRawHandle, FromRawHandle};
use std::path::Path;

use windows_sys::Win32::Foundation::{
    ERROR_ALREADY_EXISTS, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo, SDDL_REVISION_1,
    SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, CreateWellKnownSid, DACL_SECURITY_INFORMATION, EqualSid, GetAce,
    GetSecurityDescriptorControl, GetSecurityDescriptorDacl, GetSecurityDescriptorOwner, GetTokenInformation,
    INHERIT_ONLY_ACE, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SE_DACL_PROTECTED, SECURITY_ATTRIBUTES, SECURITY_MAX_SID_SIZE, TOKEN_OWNER, TOKEN_QUERY, TOKEN_USER, TokenOwner,
    TokenUser, UNPROTECTED_DACL_SECURITY_INFORMATION, WELL_KNOWN_SID_TYPE, WinBuiltinAdministratorsSid,
    WinCreatorOwnerRightsSid, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateDirectoryW, DELETE, FILE_APPEND_DATA, FILE_ATTRIBUTE_REPARSE_POINT, FILE_DELETE_CHILD,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_READ_DATA, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, FILE_WRITE_DATA, READ_CONTROL, ReOpenFile, WRITE_DAC, WRITE_OWNER,
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

/// Who "others" are, in messages.
pub(crate) const OTHERS: &str = "other accounts";
/// How a user makes a file readable by them alone, in messages.
pub(crate) const MAKE_PRIVATE: &str = "remove the other accounts from its Security tab, or run `icacls FILE \
                                       /inheritance:r /grant:r %USERNAME%:F`";
/// What a private directory is, in messages ("made private to you when needed").
pub(crate) const PRIVATE_DIR: &str = "private to you";

/// The command that makes `path` (a directory when `dir`) its owner's alone, for messages: it drops the inherited
/// entries and grants the user full control (entries that name other accounts must still be removed by hand).
pub(crate) fn fix(path: &Path, dir: bool) -> String {
    let inherit = if dir { "(OI)(CI)" } else { "" };
    format!("icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:{inherit}F\"", path.display())
}

/// What the access list of `path` lets other accounts do; one that cannot be read counts as open to everyone.
pub(crate) fn exposure(path: &Path, _meta: &Metadata) -> super::Exposure {
    let found = open_for_security(path).and_then(|file| {
        let me = Me::get()?;
        let (ours, others) = inspect(file.as_raw_handle(), &me)?;
        Ok((ours, others, sid_text(me.user.ptr())))
    });
    let (ours, others, me) = match found {
        Ok(found) => found,
        Err(e) => {
            let why = Some(format!("an access list that cannot be read: {e}"));
            (true, Others { writer: why.clone(), reader: why }, String::new())
        }
    };
    let shown = match (&others.writer, &others.reader) {
        (Some(who), _) => format!("its access list lets {who} change it"),
        (None, Some(who)) => format!("its access list lets {who} read it"),
        (None, None) => "its access list lets no other account in".to_owned(),
    };
    super::Exposure {
        shown,
        write: others.writer.is_some(),
        read: others.reader.is_some(),
        any: others.writer.is_some() || others.reader.is_some(),
        sticky: false,
        stranger: (!ours).then(|| ("another account".to_owned(), me)),
    }
}

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
    if dacl.is_null() {
        let everyone = Some("Everyone (it has no access list at all)".to_owned());
        return Ok((ours, Others { writer: everyone.clone(), reader: everyone }));
    }
    // SAFETY: a non-null DACL from GetSecurityInfo is a valid ACL inside `sd`, which lives until we return.
    Ok((ours, unsafe { scan(dacl, me) }))
}

/// What the entries of `dacl` allow others. Inherit-only entries do not apply to the object itself, and deny
/// entries only take rights away, so both are skipped; an allow entry of a kind this code does not read (compound or
/// object entries, which Windows uses for directory-service objects, not files) counts as letting someone write.
///
/// # Safety
/// `dacl` must point to a valid ACL.
unsafe fn scan(dacl: *const ACL, me: &Me) -> Others {
    let mut others = Others { writer: None, reader: None };
    // SAFETY: the caller's promise.
    let count = unsafe { (*dacl).AceCount };
    for i in 0..u32::from(count) {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `i` is below the ACL's count.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
            continue;
        }
        // SAFETY: every ACE starts with an ACE_HEADER.
        let header = unsafe { &*ace.cast::<ACE_HEADER>() };
        let (sid, mask) = match header.AceType {
            _ if u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0 => continue,
            // Allowed and allowed-callback entries have the ACCESS_ALLOWED_ACE layout.
            0 | 9 => {
                // SAFETY: as the comment above says.
                let allowed = unsafe { &*ace.cast::<ACCESS_ALLOWED_ACE>() };
                (std::ptr::addr_of!(allowed.SidStart) as PSID, allowed.Mask)
            }
            kind @ (4 | 5 | 11) => {
                others
                    .writer
                    .get_or_insert_with(|| format!("an access entry of type {kind}, which tokenfob cannot read"));
                continue;
            }
            _ => continue,
        };
        if me.trusts(sid) {
            continue;
        }
        if mask & WRITE_RIGHTS != 0 && others.writer.is_none() {
            others.writer = Some(sid_text(sid));
        }
        if mask & READ_RIGHTS != 0 && others.reader.is_none() {
            others.reader = Some(sid_text(sid));
        }
    }
    others
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

/// The protected, current-user-only security descriptor, inheritable by what is created inside when `dir`, owned
/// by the current user (not by Administrators, the default owner in an elevated process, so that a cache made
/// elevated is still the user's when not).
fn private_descriptor(dir: bool) -> std::io::Result<Local> {
    let me = Me::get()?;
    let inherit = if dir { "OICI" } else { "" };
    let user = sid_text(me.user.ptr());
    let sddl = format!("O:{user}D:P(A;{inherit};FA;;;{user})");
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

/// Gives the open `handle` the private DACL and makes the current user its owner (the handle needs WRITE_DAC and
/// WRITE_OWNER; anyone may make their own account the owner of what they may re-permission).
fn set_private(handle: HANDLE, dir: bool) -> std::io::Result<()> {
    let sd = private_descriptor(dir)?;
    let (mut present, mut defaulted, mut dacl): (i32, i32, *mut ACL) = (0, 0, std::ptr::null_mut());
    let mut owner: PSID = std::ptr::null_mut();
    // SAFETY: `sd` is a valid descriptor; the DACL and owner pointers point into it and are used while it lives.
    let status = unsafe {
        GetSecurityDescriptorDacl(sd.0, &mut present, &mut dacl, &mut defaulted);
        GetSecurityDescriptorOwner(sd.0, &mut owner, &mut defaulted);
        let what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        SetSecurityInfo(handle, SE_FILE_OBJECT, what, owner, std::ptr::null_mut(), dacl, std::ptr::null())
    };
    if status != 0 { Err(std::io::Error::from_raw_os_error(status as i32)) } else { Ok(()) }
}

/// Replaces the DACL of a cache file or directory that others could read by the private one, with a warning: the
/// tokens may have been read already, and only renewing them helps with that. The change is made through `file`,
/// the handle that was checked (reopened with the rights it needs, never by path, which could name another file by
/// now), and read back: if others may still read it, that is an error that says so, not a warning that they no
/// longer can.
pub(crate) fn make_private(path: &Path, file: &File, dir: bool) -> std::io::Result<()> {
    let file = reopen(file, READ_CONTROL | WRITE_DAC | WRITE_OWNER, dir)?;
    set_private(file.as_raw_handle(), dir)?;
    let (_, others) = inspect(file.as_raw_handle(), &Me::get()?)?;
    if let Some(reader) = others.reader {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is readable by other accounts, and giving it an access list for you alone did not take that \
                 away ({reader} may still read it): run `{}`, or remove it",
                path.display(),
                fix(path, dir)
            ),
        ));
    }
    let holds = if dir { "the tokens in it" } else { "its tokens" };
    crate::log::warn(format_args!(
        "{} was readable by other accounts; gave it an access list for you alone. {holds} may have leaked: run \
         `tokenfob logout PROFILE` then `tokenfob login PROFILE` to replace them",
        path.display(),
    ));
    Ok(())
}

/// A new handle with `access` to the file or directory `file` has open (`ReOpenFile`).
fn reopen(file: &File, access: u32, dir: bool) -> std::io::Result<File> {
    let share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
    let flags = if dir { FILE_FLAG_BACKUP_SEMANTICS } else { 0 };
    // SAFETY: `file`'s handle is open; a valid result is a new handle that nothing else owns.
    let raw = unsafe { ReOpenFile(file.as_raw_handle(), access, share, flags) };
    if raw == INVALID_HANDLE_VALUE {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    Ok(unsafe { File::from_raw_handle(raw) })
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
/// gets the private DACL and the user as its owner, like [`create_new`]: made by an elevated run it would otherwise
/// belong to Administrators, and every later run as the user would refuse it.
pub(crate) fn open_lock(path: &Path) -> std::io::Result<File> {
    let created = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .access_mode(GENERIC_READ | GENERIC_WRITE | READ_CONTROL | WRITE_DAC | WRITE_OWNER)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path);
    let file = match created {
        Ok(file) => {
            set_private(file.as_raw_handle(), false)?;
            file
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).write(true).custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(path)?
        }
        Err(e) => return Err(e),
    };
    refuse_reparse(file, |why| std::io::Error::new(std::io::ErrorKind::PermissionDenied, why))
}

/// Creates `path` exclusively, never following a reparse point, and gives it the private DACL before a byte is
/// written.
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .access_mode(GENERIC_WRITE | READ_CONTROL | WRITE_DAC | WRITE_OWNER)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    set_private(file.as_raw_handle(), false)?;
    Ok(file)
}

/// Gives `file` (made by [`create_new`]) the access list of the file at `like`, inherited entries and protection
/// included; without one it keeps the private DACL it was made with.
pub(crate) fn keep_access(file: &File, like: Option<&Path>) -> std::io::Result<()> {
    let Some(like) = like else { return Ok(()) };
    let old = open_for_security(like)?;
    let (mut dacl, mut sd): (*mut ACL, PSECURITY_DESCRIPTOR) = (std::ptr::null_mut(), std::ptr::null_mut());
    let (mut control, mut revision) = (0u16, 0u32);
    // SAFETY: out pointers to locals; the descriptor is freed by `Local` after the DACL in it was used.
    let status = unsafe {
        let status = GetSecurityInfo(
            old.as_raw_handle(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        );
        if status != 0 {
            return Err(std::io::Error::from_raw_os_error(status as i32));
        }
        let _free = Local(sd);
        GetSecurityDescriptorControl(sd, &mut control, &mut revision);
        let protection = if control & SE_DACL_PROTECTED != 0 {
            PROTECTED_DACL_SECURITY_INFORMATION
        } else {
            UNPROTECTED_DACL_SECURITY_INFORMATION
        };
        let what = DACL_SECURITY_INFORMATION | protection;
        let null = std::ptr::null_mut();
        SetSecurityInfo(file.as_raw_handle(), SE_FILE_OBJECT, what, null, null, dacl, std::ptr::null())
    };
    if status != 0 { Err(std::io::Error::from_raw_os_error(status as i32)) } else { Ok(()) }
}

/// As [`keep_access`], but private to the user when another account could read the file at `like`: for a file
/// about to hold a secret, the private DACL it was made with stays. Says what changed, when anything did.
pub(crate) fn keep_access_private(file: &File, like: Option<&Path>) -> std::io::Result<Option<String>> {
    match like {
        Some(old) if config_readable_by_others(old, &std::fs::metadata(old)?) => {
            Ok(Some("gave it an access list for you alone (other accounts could read it)".into()))
        }
        _ => keep_access(file, like).map(|()| None),
    }
}

/// Creates `path` exclusively, gives it the private DACL, then writes `bytes` and flushes them to disk.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = create_new(path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_tokenfob_creates_passes_its_own_check_and_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("c");
        create_dir_all(&cache).unwrap();
        create_dir_all(&cache).unwrap();
        assert!(create_dir(&cache).is_err(), "an existing directory must not be taken over");
        let meta = std::fs::symlink_metadata(&cache).unwrap();
        assert_eq!(check(&cache, &meta, None, true), Ok(false));
        let entry = cache.join("p.json");
        write_new(&entry, b"x").unwrap();
        assert!(write_new(&entry, b"y").is_err(), "a temp file is created exclusively");
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        assert_eq!(check(&entry, &meta, None, false), Ok(false));
    }

    /// The owner SID of `path`, as text.
    fn owner_of(path: &Path) -> String {
        let file = open_for_security(path).unwrap();
        let (mut owner, mut sd): (PSID, PSECURITY_DESCRIPTOR) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: test-only; the owner points into `sd`, read before it is freed.
        unsafe {
            let status = GetSecurityInfo(
                file.as_raw_handle(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION,
                &mut owner,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut sd,
            );
            assert_eq!(status, 0);
            let text = sid_text(owner);
            LocalFree(sd);
            text
        }
    }

    #[test]
    fn a_new_lock_file_is_the_users_and_private_and_an_existing_one_opens() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("p.lock");
        drop(open_lock(&lock).unwrap());
        assert_eq!(owner_of(&lock), sid_text(Me::get().unwrap().user.ptr()), "not the token's default owner");
        let meta = std::fs::symlink_metadata(&lock).unwrap();
        assert!(check(&lock, &meta, None, false).is_ok());
        std::fs::write(&lock, b"kept").unwrap();
        drop(open_lock(&lock).unwrap());
        assert_eq!(std::fs::read(&lock).unwrap(), b"kept", "an existing lock file is opened, not truncated");
    }

    /// Gives `path` the DACL in `sddl` (for tests that plant what another account could have made).
    fn set_dacl(path: &Path, sddl: &str) {
        let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let (mut present, mut defaulted, mut dacl): (i32, i32, *mut ACL) = (0, 0, std::ptr::null_mut());
        let file = OpenOptions::new().access_mode(READ_CONTROL | WRITE_DAC).open(path).unwrap();
        // SAFETY: test-only calls on a descriptor and a handle that live across them.
        let status = unsafe {
            assert_ne!(
                ConvertStringSecurityDescriptorToSecurityDescriptorW(wide.as_ptr(), 1, &mut sd, std::ptr::null_mut()),
                0
            );
            GetSecurityDescriptorDacl(sd, &mut present, &mut dacl, &mut defaulted);
            let what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
            let status = SetSecurityInfo(
                file.as_raw_handle(),
                SE_FILE_OBJECT,
                what,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            );
            LocalFree(sd);
            status
        };
        assert_eq!(status, 0);
    }

    #[test]
    fn a_new_file_is_private_an_old_ones_access_list_is_kept_and_exposure_names_who_else_gets_in() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.toml");
        keep_access(&create_new(&new).unwrap(), None).unwrap();
        let meta = std::fs::symlink_metadata(&new).unwrap();
        let private = exposure(&new, &meta);
        // On Windows no one else may read it either; Wine 8 reports the Unix mode a new file got outside a private
        // directory (0775 here), which lets others read, so only "no one else may write it" holds on both.
        assert!(!private.write && private.stranger.is_none(), "{}", private.shown);
        let old = dir.path().join("old.toml");
        std::fs::write(&old, b"x").unwrap();
        set_dacl(&old, "D:P(A;;FA;;;WD)");
        let shared = exposure(&old, &meta);
        assert!(shared.write && shared.any && shared.shown.contains("S-1-1-0"), "{}", shared.shown);
        let copy = dir.path().join("copy.toml");
        keep_access(&create_new(&copy).unwrap(), Some(&old)).unwrap();
        assert!(exposure(&copy, &meta).write, "the old file's access list goes with the new one");
        assert!(fix(&old, false).starts_with("icacls \""));
    }

    #[test]
    fn a_file_that_everyone_may_write_is_refused_and_one_they_may_read_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("p.json");
        std::fs::write(&entry, b"x").unwrap();
        set_dacl(&entry, "D:P(A;;FA;;;WD)");
        let meta = std::fs::symlink_metadata(&entry).unwrap();
        let why = check(&entry, &meta, None, false).unwrap_err();
        assert!(why.contains("others may write to it") && why.contains("S-1-1-0"), "{why}");
        let me = sid_text(Me::get().unwrap().user.ptr());
        set_dacl(&entry, &format!("D:P(A;;FA;;;{me})(A;;FR;;;WD)"));
        assert_eq!(check(&entry, &meta, None, false), Ok(true));
        // On Windows the repair works and the check then finds no one else. Wine 8 may keep mode bits that still let
        // others read (docs/security.md): then make_private must say so instead of claiming success.
        match make_private(&entry, &File::open(&entry).unwrap(), false) {
            Ok(()) => assert_eq!(check(&entry, &meta, None, false), Ok(false)),
            Err(e) => {
                assert!(e.to_string().contains("did not take that away"), "{e}");
                assert_eq!(check(&entry, &meta, None, false), Ok(true));
            }
        }
    }
}
