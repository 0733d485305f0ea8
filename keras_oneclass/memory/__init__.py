"""Feature-memory pieces: greedy k-centre coreset, nearest-neighbour search (faiss or keras.ops), one-pass fitting."""

from keras_oneclass.memory.coreset import coreset_indices, greedy_k_centre, random_projection
from keras_oneclass.memory.index import KerasNearestNeighbours, NearestNeighbours, nearest_neighbours, resolve_search
