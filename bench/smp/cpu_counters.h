// /proc/xos/cpus around a part of a bench program (bench/smp/smp.c, bench/fs/smp_read.c): what
// each CPU counted meanwhile, printed as one line "counters FIGURE: cpu N name delta ...".
// Nothing where the file does not exist (Linux).
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// /proc/xos/cpus: "cpu N name value name value ..." per CPU.
#define COUNTER_CPUS 16
#define COUNTERS 32
struct counters {
    int cpus;
    char names[COUNTERS][32];
    int count;
    unsigned long long values[COUNTER_CPUS][COUNTERS];
};

static int read_counters(struct counters* c) {
    FILE* f = fopen("/proc/xos/cpus", "r");
    if (!f) return 0;
    memset(c, 0, sizeof *c);
    char line[2048];
    while (c->cpus < COUNTER_CPUS && fgets(line, sizeof line, f)) {
        char* save;
        char* word = strtok_r(line, " \n", &save);
        if (!word || strcmp(word, "cpu") != 0 || !strtok_r(NULL, " \n", &save)) continue;
        int n = 0;
        for (char* name; n < COUNTERS && (name = strtok_r(NULL, " \n", &save));) {
            char* value = strtok_r(NULL, " \n", &save);
            if (!value) break;
            if (c->cpus == 0) snprintf(c->names[n], sizeof c->names[n], "%s", name);
            c->values[c->cpus][n++] = strtoull(value, NULL, 10);
        }
        if (c->cpus == 0) c->count = n;
        ++c->cpus;
    }
    fclose(f);
    return c->cpus > 0;
}

static void print_counter_deltas(const char* figure, const struct counters* before) {
    static struct counters after;
    if (!read_counters(&after)) return;
    printf("counters %s:", figure);
    for (int cpu = 0; cpu < after.cpus && cpu < before->cpus; ++cpu) {
        printf(" cpu %d", cpu);
        for (int i = 0; i < after.count && i < before->count; ++i)
            if (after.values[cpu][i] != before->values[cpu][i])
                printf(" %s %llu", after.names[i], after.values[cpu][i] - before->values[cpu][i]);
    }
    printf("\n");
}
