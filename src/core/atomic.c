/* atomic.c - crash-safe file replacement.
 *
 * Every file imgclass writes goes to a temporary file in the same directory as its final
 * name ("<dir>/.<name>.tmp.<pid>.<n>"), is flushed and fsync'ed, renamed over the final
 * name (atomic on POSIX file systems) and the directory is fsync'ed, so after a crash the
 * final name holds either the old file or the complete new one, never a mix.
 *
 * A writer that is killed (SIGKILL, power loss) leaves its temporary file behind. The
 * next replacement of the same file removes such leftovers: siblings named
 * ".<name>.tmp.<pid>.<n>" whose pid is not a live process on this machine (the current
 * process's own, possibly still being written by another thread, are kept). Only done
 * when the final file already exists (a replacement: checkpoints, histories), so writing
 * many new files into a big folder does not rescan it each time. On a folder shared by
 * several machines (NFS) a live writer on another machine could look dead here; do not
 * point writers on different machines at the same file name.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static atomic_uint g_counter;

/* Splits path into its directory ("." when none) and base name. */
static int split_path(const char *path, char *dir, size_t dsize, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dsize, ".");
        *base = path;
        return 0;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1; /* "/name": the root directory */
    if (n >= dsize)
        return -1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    *base = slash + 1;
    return 0;
}

/* Removes "<dir>/.<base>.tmp.<pid>.<n>" left by dead writers (see the top). Best effort. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t bl = strlen(base);
    long self = (long)getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        if (nm[0] != '.' || strncmp(nm + 1, base, bl) || strncmp(nm + 1 + bl, ".tmp.", 5))
            continue;
        const char *q = nm + 1 + bl + 5, *r;
        char *end;
        long pid = strtol(q, &end, 10);
        if (end == q || *end != '.' || pid <= 0 || pid == self || !end[1])
            continue;
        for (r = end + 1; *r && isdigit((unsigned char)*r); r++)
            ;
        if (*r)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to signal): maybe still writing */
        char full[8192];
        int w = snprintf(full, sizeof full, "%s/%s", dir, nm);
        if (w > 0 && (size_t)w < sizeof full)
            unlink(full);
    }
    closedir(d);
}

ic_status ic__atomic_begin(ic__atomic_file *f, const char *path, int want_stream)
{
    memset(f, 0, sizeof *f);
    if (!path || !*path)
        return ic_seterr(IC_ERR_INVALID, "empty file name");
    size_t len = strlen(path);
    if (len >= sizeof f->path)
        return ic_seterr(IC_ERR_INVALID, "file name too long (%zu bytes)", len);
    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base) != 0 || !*base)
        return ic_seterr(IC_ERR_INVALID, "%s: not a file name", path);
    memcpy(f->path, path, len + 1);
    unsigned n = atomic_fetch_add(&g_counter, 1);
    int w = snprintf(f->tmp, sizeof f->tmp, "%s/.%s.tmp.%ld.%u", dir, base, (long)getpid(), n);
    if (w < 0 || (size_t)w >= sizeof f->tmp) {
        f->tmp[0] = '\0';
        return ic_seterr(IC_ERR_INVALID, "%s: file name too long", path);
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        remove_stale(dir, base);
    if (want_stream) {
        int fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            int e = errno;
            f->tmp[0] = '\0';
            return ic_seterr(IC_ERR_IO, "%s: cannot create a temporary file in '%s': %s", path,
                             dir, strerror(e));
        }
        f->fp = fdopen(fd, "wb");
        if (!f->fp) {
            int e = errno;
            close(fd);
            unlink(f->tmp);
            f->tmp[0] = '\0';
            return ic_seterr(IC_ERR_IO, "%s: %s", path, strerror(e));
        }
    }
    return IC_OK;
}

/* fsyncs the directory holding path (after the rename). Some file systems refuse fsync on
 * directories (EINVAL): not an error. */
static int sync_dir(const char *path)
{
    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base) != 0)
        return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    return (r != 0 && e != EINVAL && e != EROFS) ? e : 0;
}

ic_status ic__atomic_commit(ic__atomic_file *f)
{
    if (!f->tmp[0])
        return ic_seterr(IC_ERR_INTERNAL, "%s: atomic write committed twice", f->path);
    int e = 0;
    if (f->fp) {
        if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0)
            e = errno;
        if (fclose(f->fp) != 0 && !e)
            e = errno;
        f->fp = NULL;
    } else {
        int fd = open(f->tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            e = errno;
        } else {
            if (fsync(fd) != 0)
                e = errno;
            close(fd);
        }
    }
    if (e) {
        ic__atomic_abort(f);
        return ic_seterr(IC_ERR_IO, "%s: writing failed: %s", f->path, strerror(e));
    }
    if (rename(f->tmp, f->path) != 0) {
        e = errno;
        ic__atomic_abort(f);
        return ic_seterr(IC_ERR_IO, "%s: cannot rename the temporary file into place: %s",
                         f->path, strerror(e));
    }
    f->tmp[0] = '\0';
    if ((e = sync_dir(f->path)) != 0)
        return ic_seterr(IC_ERR_IO, "%s: syncing the directory failed: %s", f->path,
                         strerror(e));
    return IC_OK;
}

void ic__atomic_abort(ic__atomic_file *f)
{
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp[0]) {
        unlink(f->tmp);
        f->tmp[0] = '\0';
    }
}
