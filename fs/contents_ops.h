#pragma once
// The FUSE operations inside images: below a directory of the view that shows a tree of files
// from layers (rootfs/, layer-contents/; fs/contents.h), and on every inode in such a tree.
// fuse_ops.cc hands each request for one of them to the function here, which replies.

#include "fs/fuse_state.h"

namespace regfs::view {

// LOOKUP of `name` below `parent`.
void contentsLookup(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& parent,
                    const char* name);
// GETATTR of `ino` (an inode inside a tree) as `snap` shows it.
void contentsGetattr(fuse_req_t req, ViewFs& f, const Snapshot& snap, fuse_ino_t ino);
void contentsReadlink(fuse_req_t req, ViewFs& f, fuse_ino_t ino);
// READDIR(PLUS) of `dir`, from entry `offset` on.
void contentsReaddir(fuse_req_t req, ViewFs& f, const ViewFs::ContentsPlace& dir, size_t size,
                     off_t offset, bool plus);
void contentsOpen(fuse_req_t req, ViewFs& f, fuse_ino_t ino, fuse_file_info* fi);
// READ of a file contentsOpen opened.
void contentsRead(fuse_req_t req, ContentsFile& file, size_t size, off_t offset);
// READ of a file the kernel opened itself (ViewFs::openInKernel), named by its inode.
void contentsReadByInode(fuse_req_t req, ViewFs& f, fuse_ino_t ino, size_t size, off_t offset);
// GETXATTR and LISTXATTR: the layer that supplied the entry, and the entry's own attributes.
void contentsGetxattr(fuse_req_t req, ViewFs& f, fuse_ino_t ino, const char* name, size_t size);
void contentsListxattr(fuse_req_t req, ViewFs& f, fuse_ino_t ino, size_t size);

}  // namespace regfs::view
