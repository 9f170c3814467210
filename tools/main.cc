// regfsctl: operator tools over a store. One file per command; this file only lists them.
#include "tools/command.h"

// Every command, once. Adding a command: its file, and one line here.
#define REGFS_COMMANDS(X) \
  X(GarbageCollect)       \
  X(Fsck)                 \
  X(Du)                   \
  X(PurgeUploads)         \
  X(DeleteRepo)           \
  X(Index)                \
  X(Export)               \
  X(Restore)              \
  X(Retention)            \
  X(Immutable)

namespace regfs::tools {
#define REGFS_DECLARE_COMMAND(Name) void add##Name##Command(Commands& commands);
REGFS_COMMANDS(REGFS_DECLARE_COMMAND)
#undef REGFS_DECLARE_COMMAND
}  // namespace regfs::tools

int main(int argc, char** argv) {
  regfs::tools::Commands commands{"regfsctl: operator tools for a regfs / distribution store"};
#define REGFS_ADD_COMMAND(Name) regfs::tools::add##Name##Command(commands);
  REGFS_COMMANDS(REGFS_ADD_COMMAND)
#undef REGFS_ADD_COMMAND
  return commands.run(argc, argv);
}
