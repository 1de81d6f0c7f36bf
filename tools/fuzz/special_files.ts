/**
 * Paths that name something other than a good regular file, for fuzzing how the CLI opens,
 * reads and writes: a FIFO, a unix socket, devices, a folder, symlink loops, a path through a
 * file, a name over 255 bytes, empty and tiny files, and sparse files from just under to far
 * over the model size limit (sparse: gigabytes that take no disk). Each says which exit it
 * must end in (2 usage, 3 format, 4 I/O) and how many bytes may be read to get there.
 *
 * @module
 */

/** One path to give the CLI. */
export interface SpecialPath {
  /** What it is, for messages. */
  readonly name: string;
  readonly path: string;
  /** The exit code the CLI must end with. */
  readonly exit: 2 | 3 | 4;
  /** Most bytes the CLI may read from it (as an input). */
  readonly maxBytesRead: number;
}

/** Special inputs and outputs, and what releases them (the socket's listener). */
export interface SpecialFiles {
  readonly inputs: readonly SpecialPath[];
  readonly outputs: readonly SpecialPath[];
  /** The model the outputs are written from (a copy in the folder; one output links to it). */
  readonly model: string;
  /** Closes the socket listener; the folder is the caller's to remove. */
  close(): void;
}

function sparse(path: string, size: number, head = new Uint8Array(0)): string {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    f.writeSync(head);
    f.truncateSync(size);
  } finally {
    f.close();
  }
  return path;
}

/**
 * Creates the special paths in `dir`.
 *
 * @param dir an empty temporary folder
 * @param modelLimit the CLI's model size limit, in bytes
 * @param model a good model file, for outputs that alias it
 * @returns the paths
 */
export async function makeSpecialFiles(
  dir: string,
  modelLimit: number,
  model: string,
): Promise<SpecialFiles> {
  const at = (name: string) => `${dir}/${name}`;
  const mk = await new Deno.Command("mkfifo", { args: [at("fifo")] }).output();
  if (mk.code !== 0) throw new Error("mkfifo failed");
  const listener = Deno.listen({ transport: "unix", path: at("socket") });
  Deno.symlinkSync(at("loop-b"), at("loop-a"));
  Deno.symlinkSync(at("loop-a"), at("loop-b"));
  Deno.symlinkSync("/dev/zero", at("zero-link.gguf"));
  Deno.writeFileSync(at("empty.gguf"), new Uint8Array(0));
  Deno.writeFileSync(at("three.gguf"), new Uint8Array([0x47, 0x47, 0x55]));
  Deno.mkdirSync(at("folder.gguf"));
  const copy = at("model.gguf");
  Deno.copyFileSync(model, copy);
  Deno.symlinkSync(copy, at("model-link.ts"));
  Deno.symlinkSync("/dev/full", at("full.ts"));
  const gguf = new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0]);
  const GiB = 2 ** 30;

  const inputs: SpecialPath[] = [
    { name: "a FIFO", path: at("fifo"), exit: 2, maxBytesRead: 0 },
    { name: "a unix socket", path: at("socket"), exit: 2, maxBytesRead: 0 },
    { name: "/dev/zero", path: "/dev/zero", exit: 2, maxBytesRead: 0 },
    { name: "a symlink to /dev/zero", path: at("zero-link.gguf"), exit: 2, maxBytesRead: 0 },
    { name: "/dev/null", path: "/dev/null", exit: 2, maxBytesRead: 0 },
    { name: "a folder", path: at("folder.gguf"), exit: 2, maxBytesRead: 0 },
    { name: "a symlink loop", path: at("loop-a"), exit: 4, maxBytesRead: 0 },
    { name: "a path through a file", path: `${model}/x.gguf`, exit: 4, maxBytesRead: 0 },
    { name: "a 300-byte name", path: at(`${"n".repeat(300)}.gguf`), exit: 4, maxBytesRead: 0 },
    { name: "a missing file", path: at("missing.gguf"), exit: 2, maxBytesRead: 0 },
    { name: "an empty file", path: at("empty.gguf"), exit: 3, maxBytesRead: 0 },
    { name: "a 3-byte file", path: at("three.gguf"), exit: 3, maxBytesRead: 3 },
    ...[
      ["one byte over the model limit", modelLimit + 1],
      ["2 GiB", 2 * GiB],
      ["5 GiB", 5 * GiB],
      ["1 TiB", 2 ** 40],
    ].map(([what, size]) => ({
      name: `a sparse file of ${what} with the GGUF magic`,
      path: sparse(at(`sparse-${size}.gguf`), size as number, gguf),
      exit: 3 as const,
      maxBytesRead: 0,
    })),
    {
      name: "a sparse 300 MiB file of zeros (under the limit: the magic decides)",
      path: sparse(at("sparse-300m.gguf"), 300 * 2 ** 20),
      exit: 3,
      maxBytesRead: 4,
    },
  ];
  const outputs: SpecialPath[] = [
    { name: "a symlink to /dev/full", path: at("full.ts"), exit: 4, maxBytesRead: Infinity },
    { name: "a folder", path: at("folder.ts"), exit: 2, maxBytesRead: Infinity },
    { name: "a FIFO", path: at("fifo.ts"), exit: 2, maxBytesRead: Infinity },
    { name: "a path through a file", path: `${model}/x.ts`, exit: 4, maxBytesRead: Infinity },
    { name: "a 300-byte name", path: at(`${"o".repeat(300)}.ts`), exit: 4, maxBytesRead: Infinity },
    { name: "a symlink loop", path: at("loop-out.ts"), exit: 4, maxBytesRead: Infinity },
    { name: "a missing folder", path: at("no/such/x.ts"), exit: 2, maxBytesRead: Infinity },
    { name: "a symlink to the input", path: at("model-link.ts"), exit: 2, maxBytesRead: Infinity },
  ];
  Deno.mkdirSync(at("folder.ts"));
  await new Deno.Command("mkfifo", { args: [at("fifo.ts")] }).output();
  Deno.symlinkSync(at("loop-out.ts"), at("loop-out.ts"));
  return { inputs, outputs, model: copy, close: () => listener.close() };
}
