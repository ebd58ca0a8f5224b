/* A stand-in for the NVIDIA driver's libnvidia-ml.so.1 with the C ABI of nvml.h, so the
 * tests exercise everybyte's run-time loading, struct layouts and buffer protocols on a
 * machine without a GPU. Two cards: GPU 0 holds 95.8% of its memory at 0% utilisation
 * with 70 processes (more than a first 64-entry buffer holds); GPU 1 is thermally
 * throttled and reports one Xid 79. */
#include <stdio.h>
#include <string.h>

typedef struct { int index; } dev_t_;
static dev_t_ devices[2] = {{0}, {1}};
static int initialised = 0;
static int xid_pending = 1;

typedef struct { unsigned long long total, free, used; } memory_t;
typedef struct { unsigned int gpu, memory; } util_t;
typedef struct { unsigned int pid; unsigned long long used; unsigned int gi, ci; } proc_t;
typedef struct { void *device; unsigned long long type, data; unsigned int gi, ci; } event_t;

#define MIB (1024ULL * 1024ULL)

int nvmlInit_v2(void) { initialised++; return 0; }
int nvmlShutdown(void) { initialised--; return initialised < 0 ? 1 : 0; }
const char *nvmlErrorString(int r) { return r == 0 ? "Success" : "Unknown Error"; }
int nvmlSystemGetDriverVersion(char *buf, unsigned int len) {
    snprintf(buf, len, "%s", "550.54.15");
    return 0;
}
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 2; return initialised ? 0 : 1; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **dev) {
    if (i > 1) return 2;
    *dev = &devices[i];
    return 0;
}
static int idx(void *dev) { return ((dev_t_ *)dev)->index; }
int nvmlDeviceGetName(void *dev, char *buf, unsigned int len) {
    snprintf(buf, len, "%s", idx(dev) ? "NVIDIA A100-SXM4-80GB" : "NVIDIA GeForce RTX 3090");
    return 0;
}
int nvmlDeviceGetUUID(void *dev, char *buf, unsigned int len) {
    snprintf(buf, len, "GPU-0000000%d-aaaa-bbbb-cccc-dddddddddddd", idx(dev));
    return 0;
}
int nvmlDeviceGetMemoryInfo(void *dev, memory_t *m) {
    if (idx(dev) == 0) {
        m->total = 24000 * MIB; m->used = 23000 * MIB;
    } else {
        m->total = 81920 * MIB; m->used = 40000 * MIB;
    }
    m->free = m->total - m->used;
    return 0;
}
int nvmlDeviceGetUtilizationRates(void *dev, util_t *u) {
    u->gpu = idx(dev) ? 97 : 0;
    u->memory = idx(dev) ? 60 : 0;
    return 0;
}
int nvmlDeviceGetTemperature(void *dev, int sensor, unsigned int *t) {
    if (sensor != 0) return 2;
    *t = idx(dev) ? 89 : 45;
    return 0;
}
int nvmlDeviceGetClockInfo(void *dev, int type, unsigned int *mhz) {
    *mhz = type == 1 ? (idx(dev) ? 1110 : 210) : (type == 2 ? 1593 : 0);
    return 0;
}
int nvmlDeviceGetPowerUsage(void *dev, unsigned int *mw) { *mw = idx(dev) ? 312450 : 35120; return 0; }
int nvmlDeviceGetCurrentClocksThrottleReasons(void *dev, unsigned long long *r) {
    *r = idx(dev) ? 0x40 : 0x1;
    return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void *dev, unsigned int *n, proc_t *out) {
    unsigned int have = idx(dev) ? 1 : 70;
    if (*n < have) { *n = have; return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */ }
    for (unsigned int i = 0; i < have; i++) {
        out[i].pid = 1000 + i; out[i].used = 300 * MIB; out[i].gi = out[i].ci = 0xFFFFFFFF;
    }
    *n = have;
    return 0;
}
int nvmlEventSetCreate(void **set) { *set = (void *)&xid_pending; return 0; }
int nvmlDeviceRegisterEvents(void *dev, unsigned long long types, void *set) {
    (void)dev; (void)set;
    return types == 0x8 ? 0 : 3;
}
int nvmlEventSetWait_v2(void *set, event_t *e, unsigned int timeout) {
    (void)set; (void)timeout;
    if (!xid_pending) return 10; /* NVML_ERROR_TIMEOUT */
    xid_pending = 0;
    memset(e, 0, sizeof *e);
    e->device = &devices[1]; e->type = 0x8; e->data = 79;
    return 0;
}
int nvmlEventSetFree(void *set) { (void)set; return 0; }
