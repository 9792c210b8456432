/** Written into every .lrm header so a file can be traced to the compiler that made it. */
export const COMPILER_VERSION = 'lowrank-edge 0.1.0';
