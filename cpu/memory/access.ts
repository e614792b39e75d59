/** Kinds of linear-memory access, as paging and EPT distinguish them (SDM Vol. 3A §4.6). */
export const enum Access { Read = 0, Write = 1, Fetch = 2 }
