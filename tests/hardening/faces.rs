//! The faces: git's credential protocol, token validation before any face prints, the JSON protocol after a config edit, the curl wrapper, and child processes (commands and `{command}` secrets).
