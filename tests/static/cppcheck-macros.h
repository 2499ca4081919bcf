/* Given to cppcheck with --include: the shape of the library macros the
 * tree iterates with, since cppcheck does not read system headers. */
#define json_object_foreach(obj, key, val)                                        \
	for (key = json_object_iter_key(json_object_iter(obj));                   \
	     key && (val = json_object_iter_value(json_object_key_to_iter(key))); \
	     key = json_object_iter_key(json_object_iter_next(obj, json_object_key_to_iter(key))))
#define json_array_foreach(arr, i, val) \
	for (i = 0; i < json_array_size(arr) && (val = json_array_get(arr, i)); i++)
