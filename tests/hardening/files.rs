//! The cache on disk: odd files, temp files, deleted lock files, the cache directory's path and modes, and the cache-hit stamp.
