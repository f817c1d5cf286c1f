#include "cem_native_private.h"

#include <hdf5.h>
#include <string.h>

// HDF5 prints its error stack by default; cem reports errors itself.
static void silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static hid_t open_dataset(const char *file, const char *dataset, hid_t *file_id) {
    silence();
    cem_clear_error();
    if (H5Fis_hdf5(file) <= 0) {
        cem_set_error("not an HDF5 file");
        return -1;
    }
    *file_id = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file_id < 0) {
        cem_set_error("cannot open HDF5 file");
        return -1;
    }
    if (H5Lexists(*file_id, dataset, H5P_DEFAULT) <= 0) {
        H5Fclose(*file_id);
        cem_set_error("no dataset '%s' in the file", dataset);
        return -1;
    }
    hid_t id = H5Dopen2(*file_id, dataset, H5P_DEFAULT);
    if (id < 0) {
        H5Fclose(*file_id);
        cem_set_error("'%s' is not a dataset", dataset);
        return -1;
    }
    return id;
}

static void read_resolution(hid_t dataset, cem_h5_info *info) {
    if (H5Aexists(dataset, "resolution") <= 0) return;
    hid_t attr = H5Aopen(dataset, "resolution", H5P_DEFAULT);
    if (attr < 0) return;
    hid_t space = H5Aget_space(attr);
    hid_t type = H5Aget_type(attr);
    H5T_class_t type_class = H5Tget_class(type);
    if (H5Sget_simple_extent_npoints(space) == 3 && (type_class == H5T_FLOAT || type_class == H5T_INTEGER)) {
        if (H5Aread(attr, H5T_NATIVE_DOUBLE, info->resolution) >= 0) info->has_resolution = 1;
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(attr);
}

int cem_h5_inspect(const char *file, const char *dataset, cem_h5_info *info) {
    memset(info, 0, sizeof *info);
    hid_t file_id;
    hid_t id = open_dataset(file, dataset, &file_id);
    if (id < 0) return -1;
    int status = 0;
    hid_t type = H5Dget_type(id);
    hid_t space = H5Dget_space(id);
    H5T_class_t type_class = H5Tget_class(type);
    int rank = H5Sget_simple_extent_ndims(space);
    if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
        cem_set_error("dataset '%s' holds neither integers nor floats", dataset);
        status = -1;
    } else if (rank < 1 || rank > 8) {
        cem_set_error("dataset '%s' has unsupported rank %d", dataset, rank);
        status = -1;
    } else {
        hsize_t dims[8];
        H5Sget_simple_extent_dims(space, dims, NULL);
        info->rank = rank;
        for (int i = 0; i < rank; i++) info->dims[i] = dims[i];
        info->element_size = (int)H5Tget_size(type);
        info->is_float = type_class == H5T_FLOAT;
        info->is_signed = type_class == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2;
        read_resolution(id, info);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(id);
    H5Fclose(file_id);
    return status;
}

int cem_h5_read(const char *file, const char *dataset, void *dst, size_t dst_len) {
    hid_t file_id;
    hid_t id = open_dataset(file, dataset, &file_id);
    if (id < 0) return -1;
    int status = 0;
    hid_t type = H5Dget_type(id);
    hid_t space = H5Dget_space(id);
    hid_t native = H5Tget_native_type(type, H5T_DIR_ASCEND);
    size_t expected = (size_t)H5Sget_simple_extent_npoints(space) * H5Tget_size(native);
    if (expected != dst_len) {
        cem_set_error("dataset '%s': buffer of %zu bytes, need %zu", dataset, dst_len, expected);
        status = -1;
    } else if (H5Dread(id, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        cem_set_error("dataset '%s': read failed (corrupt or truncated file?)", dataset);
        status = -1;
    }
    H5Tclose(native);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(id);
    H5Fclose(file_id);
    return status;
}
