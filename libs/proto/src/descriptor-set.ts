import { create, toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/**
 * Serialises the given files and everything they import into one `google.protobuf.FileDescriptorSet`,
 * dependencies first, as gRPC server reflection expects (grpc/reflection/v1alpha/reflection.proto).
 */
export function createFileDescriptorSet(files: readonly DescFile[]): Uint8Array {
  const ordered: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    ordered.push(file.proto);
  };
  for (const file of files) visit(file);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: ordered }));
}
